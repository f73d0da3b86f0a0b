using Brokering.Contracts.Grpc;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MassTransit;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Commits a reservation's holds, through the <see cref="CommitGate"/>: compliance first vouches that the saga's
/// decision still governs a sale made now and until when. Inventory then refuses at or after the earliest of the
/// saga's cutoff and that bound (it checks the instant itself, in the committing transaction), or when any hold of
/// the saga's plan has lapsed (it commits all of them or none). A refusal only because the vouching window closed
/// before inventory answered throws <see cref="CommitGateUnsettledException"/>, to be tried again under a fresh answer.
/// </summary>
public sealed class HoldsCommitter(
    HoldsLedger.HoldsLedgerClient inventory,
    CommitGate gate,
    ResiliencePipelineProvider<string> pipelines)
{
    /// <summary>
    /// Commits, and answers with the saga's next event: <see cref="HoldsCommitted"/> (also published by inventory when it
    /// commits), <see cref="ReservationCommitRefused"/>, or null when inventory committed without saying when. <paramref name="sagaCutoff"/> and <paramref name="decisionId"/>
    /// are the saga's as it stands; inventory is called as <paramref name="mode"/> says.
    /// </summary>
    public async Task<object?> CommitAsync(
        ConsumeContext context, CommitReservationHolds command, DateTimeOffset? sagaCutoff, string? decisionId, CallMode mode,
        CancellationToken cancellationToken)
    {
        var clearance = await gate.ClearAsync(context, command.ReservationId, decisionId, cancellationToken);

        // The cutoff may have been moved earlier since the command was sent (it can wait long for an inventory
        // outage): commit before the earliest of the command's, the saga's and the gate's bounds, so a stale command
        // never commits past the cutoff in force.
        var commitBefore = Earliest(command.CommitBefore, sagaCutoff, clearance.CommitBefore);
        var request = new CommitHoldsRequest
        {
            ReservationId = command.ReservationId.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(commitBefore == DateTimeOffset.MaxValue
                ? DateTimeOffset.UnixEpoch.AddYears(1000)
                : commitBefore),
        };
        request.HoldIds.AddRange((command.HoldIds ?? []).Select(id => id.ToString()));
        try
        {
            var committed = await mode.CallAsync(pipelines, ServiceNames.Inventory, TimeSpan.FromSeconds(10),
                async (deadline, token) => await inventory.CommitHoldsAsync(request, deadline: deadline, cancellationToken: token),
                cancellationToken);
            // An inventory that does not say when it committed leaves the answer to its HoldsCommitted event.
            return committed.CommittedAt is null
                ? null
                : new HoldsCommitted(command.ReservationId, [.. committed.HoldIds.Select(Guid.Parse)], committed.Units, committed.CommittedAt.ToDateTimeOffset());
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.FailedPrecondition or StatusCode.NotFound)
        {
            var lateOnlyForTheVouch = clearance is { Allowed: true, VouchedOnly: true }
                && commitBefore == clearance.CommitBefore
                && clearance.CommitBefore < Earliest(command.CommitBefore, sagaCutoff, DateTimeOffset.MaxValue)
                && exception.Trailers.GetValue(CommitRefusalTrailer.Key) == CommitRefusalTrailer.DeadlinePassed;
            if (lateOnlyForTheVouch)
            {
                throw new CommitGateUnsettledException("Compliance's answer lapsed before inventory committed; asking again.");
            }

            var reason = clearance.Allowed ? exception.Status.Detail : $"{clearance.Reason} {exception.Status.Detail}";
            // The saga may hear of this before the fresh screening the gate published: the message carries what decides.
            return new ReservationCommitRefused(command.ReservationId, reason, clearance.CutoffInForce, clearance.RefusedByCompliance,
                HoldsUnavailable: clearance.Allowed && exception.Trailers.GetValue(CommitRefusalTrailer.Key) == CommitRefusalTrailer.HoldsUnavailable);
        }
    }

    private static DateTimeOffset Earliest(DateTimeOffset first, DateTimeOffset? second, DateTimeOffset third)
    {
        var earliest = second is { } value && value < first ? value : first;
        return third < earliest ? third : earliest;
    }
}
