using Brokering.Contracts.Grpc;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Ordering;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Commits a reservation's holds, through the <see cref="CommitGate"/>: compliance first vouches that the saga's
/// decision still governs a sale made now and until when. Inventory then refuses at or after the earliest of the
/// saga's cutoff and that bound (it checks the instant itself, in the committing transaction), or when any hold of
/// the saga's plan has lapsed (it commits all of them or none); the refusal goes back to the saga. A refusal only
/// because the vouching window closed before inventory answered is tried again under a fresh answer.
/// </summary>
public sealed class CommitReservationHoldsConsumer(
    OrderingDbContext db,
    HoldsLedger.HoldsLedgerClient inventory,
    CommitGate gate,
    ResiliencePipelineProvider<string> pipelines) : IConsumer<CommitReservationHolds>
{
    public async Task Consume(ConsumeContext<CommitReservationHolds> context)
    {
        var saga = await db.Sagas.AsNoTracking()
            .Where(s => s.CorrelationId == context.Message.ReservationId)
            .Select(s => new { s.CurrentState, s.Cutoff, s.DecisionId })
            .SingleOrDefaultAsync(context.CancellationToken);
        // A redelivery that outlived its reservation commits nothing.
        if (saga is null || ReservationStateMachine.TerminalStates.Contains(saga.CurrentState))
        {
            return;
        }

        var clearance = await gate.ClearAsync(context, context.Message.ReservationId, saga.DecisionId, context.CancellationToken);

        // The cutoff may have been moved earlier since the command was sent (it can wait long for an inventory
        // outage): commit before the earliest of the command's, the saga's and the gate's bounds, so a stale command
        // never commits past the cutoff in force.
        var commitBefore = Earliest(context.Message.CommitBefore, saga.Cutoff, clearance.CommitBefore);
        var request = new CommitHoldsRequest
        {
            ReservationId = context.Message.ReservationId.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(commitBefore == DateTimeOffset.MaxValue
                ? DateTimeOffset.UnixEpoch.AddYears(1000)
                : commitBefore),
        };
        request.HoldIds.AddRange((context.Message.HoldIds ?? []).Select(id => id.ToString()));
        try
        {
            await pipelines.GetPipeline(ServiceNames.Inventory).ExecuteAsync(
                async token => await inventory.CommitHoldsAsync(request, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: token),
                context.CancellationToken);
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.FailedPrecondition or StatusCode.NotFound)
        {
            var lateOnlyForTheVouch = clearance is { Allowed: true, VouchedOnly: true }
                && commitBefore == clearance.CommitBefore
                && clearance.CommitBefore < Earliest(context.Message.CommitBefore, saga.Cutoff, DateTimeOffset.MaxValue)
                && exception.Trailers.GetValue(CommitRefusalTrailer.Key) == CommitRefusalTrailer.DeadlinePassed;
            if (lateOnlyForTheVouch)
            {
                throw new CommitGateUnsettledException("Compliance's answer lapsed before inventory committed; asking again.");
            }

            var reason = clearance.Allowed ? exception.Status.Detail : $"{clearance.Reason} {exception.Status.Detail}";
            // The saga may hear of this before the fresh screening the gate published: the message carries what decides.
            await context.Publish(new ReservationCommitRefused(
                context.Message.ReservationId, reason, clearance.CutoffInForce, clearance.RefusedByCompliance));
        }
    }

    private static DateTimeOffset Earliest(DateTimeOffset first, DateTimeOffset? second, DateTimeOffset third)
    {
        var earliest = second is { } value && value < first ? value : first;
        return third < earliest ? third : earliest;
    }
}
