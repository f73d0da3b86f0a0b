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
/// Commits a reservation's holds. Inventory refuses at or after the cutoff (it checks the instant
/// itself, in the committing transaction), or when any hold of the saga's plan has lapsed (it commits all of them
/// or none); the refusal goes back to the saga.
/// </summary>
public sealed class CommitReservationHoldsConsumer(
    OrderingDbContext db,
    HoldsLedger.HoldsLedgerClient inventory,
    ResiliencePipelineProvider<string> pipelines) : IConsumer<CommitReservationHolds>
{
    public async Task Consume(ConsumeContext<CommitReservationHolds> context)
    {
        var saga = await db.Sagas.AsNoTracking()
            .Where(s => s.CorrelationId == context.Message.ReservationId)
            .Select(s => new { s.CurrentState, s.Cutoff })
            .SingleOrDefaultAsync(context.CancellationToken);
        // A redelivery that outlived its reservation commits nothing.
        if (saga is null || ReservationStateMachine.TerminalStates.Contains(saga.CurrentState))
        {
            return;
        }

        // The cutoff may have been moved earlier since the command was sent (it can wait long for an inventory
        // outage): commit before the earlier of the two, so a stale command never commits past the cutoff in force.
        var commitBefore = saga.Cutoff is { } cutoff && cutoff < context.Message.CommitBefore ? cutoff : context.Message.CommitBefore;
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
            await context.Publish(new ReservationCommitRefused(context.Message.ReservationId, exception.Status.Detail));
        }
    }
}
