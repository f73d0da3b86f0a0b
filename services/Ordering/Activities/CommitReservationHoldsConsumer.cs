using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Commits a reservation's holds when the saga could not at once, or asks inventory again for the outcome of a commit
/// (<see cref="HoldsCommitter"/>), retrying inventory under its pipeline. The answer goes to the saga from here, a
/// commit too: inventory's own <c>HoldsCommitted</c> came only with the call that committed, which may not be this one
/// (see <see cref="SagaAnswers"/>); a second <c>HoldsCommitted</c> finds the reservation Confirmed and changes nothing.
/// </summary>
public sealed class CommitReservationHoldsConsumer(OrderingDbContext db, HoldsCommitter committer, IEndpointNameFormatter endpointNames)
    : IConsumer<CommitReservationHolds>
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
        switch (outcome)
        {
            case ReservationCommitRefused refused:
                await context.Publish(refused, context.CancellationToken);
                break;
            case HoldsCommitted committed:
                await context.SendToSagaAsync(endpointNames, committed);
                break;
        }
    }
}
