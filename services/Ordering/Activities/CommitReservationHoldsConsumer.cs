using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Commits a reservation's holds when the saga could not at once, or asks inventory again for the outcome of a commit
/// (<see cref="HoldsCommitter"/>), retrying inventory under its pipeline. A commit is reported by inventory's
/// <c>HoldsCommitted</c>; a refusal goes to the saga from here.
/// </summary>
public sealed class CommitReservationHoldsConsumer(OrderingDbContext db, HoldsCommitter committer) : IConsumer<CommitReservationHolds>
{
    public async Task Consume(ConsumeContext<CommitReservationHolds> context)
    {
        var saga = await db.Sagas.AsNoTracking()
            .Where(s => s.CorrelationId == context.Message.ReservationId)
            .Select(s => new { s.CurrentState, s.Cutoff, s.DecisionId })
            .SingleOrDefaultAsync(context.CancellationToken);
        // A redelivery that outlived its reservation commits nothing.
        if (saga is null || ReservationStates.Declared.Terminal.Contains(saga.CurrentState))
        {
            return;
        }

        var outcome = await committer.CommitAsync(context, context.Message, saga.Cutoff, saga.DecisionId, CallMode.Retrying, context.CancellationToken);
        if (outcome is ReservationCommitRefused)
        {
            await context.Publish(outcome, context.CancellationToken);
        }
    }
}
