using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Commits a reservation's holds when the saga could not at once, or asks inventory again for the outcome of a commit
/// (<see cref="HoldsCommitter"/>), retrying inventory under its pipeline, and gives the saga the answer: HoldsCommitted
/// (as inventory reported it, the first commit's instant for a repeat) is sent to the saga's queue, a refusal published.
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
        if (saga is null || ReservationStateMachine.TerminalStates.Contains(saga.CurrentState))
        {
            return;
        }

        var outcome = await committer.CommitAsync(context, context.Message, saga.Cutoff, saga.DecisionId, CallMode.Retrying, context.CancellationToken);
        switch (outcome)
        {
            case HoldsCommitted committed:
                await (await context.GetSendEndpoint(ReservationSagaQueue.Address)).Send(committed, context.CancellationToken);
                break;
            case ReservationCommitRefused refused:
                await context.Publish(refused, context.CancellationToken);
                break;
        }
    }
}
