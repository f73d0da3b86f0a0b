using Brokering.Contracts.Ordering;
using Brokering.Messaging.Postgres;
using Brokering.Ordering.Data;
using Brokering.Ordering.Reservations.Changes;
using MassTransit;

namespace Brokering.Ordering.Saga;

/// <summary>
/// Appends every state change to the saga's own history (the ops timeline) and to the buyer's change feed, and
/// announces it, all inside the saga's transaction: the outbox carries the announcement.
/// </summary>
internal sealed class TransitionHistory(TimeProvider clock) : IStateObserver<ReservationState>
{
    public async Task StateChanged(BehaviorContext<ReservationState> context, State currentState, State previousState)
    {
        // A new instance first "enters" Initial; that is not a step of the reservation's life.
        if (currentState.Name == "Initial")
        {
            return;
        }

        var saga = context.Saga;
        var now = clock.GetUtcNow();
        var from = previousState?.Name is null or "Initial" ? "Submitted" : previousState.Name;
        saga.UpdatedAt = now;
        saga.History.Add(new Transition(now, context.Event.Name, from, currentState.Name, saga.StatusReason));

        // Saved with the saga row by the same SaveChanges. Only MassTransit's in-memory test harness runs the saga
        // without a PostgreSQL transaction, and it has no feed.
        if (context.TryGetPayload(out IPostgresTransactionContext? transaction) && transaction.DbContext is OrderingDbContext db)
        {
            db.ReservationChanges.Add(new ReservationChange
            {
                ReservationId = saga.CorrelationId,
                BuyerId = saga.BuyerId,
                From = from,
                To = currentState.Name,
                Event = context.Event.Name,
                Reason = saga.StatusReason,
                At = now,
            });
        }

        await context.Publish(new ReservationStatusChanged(saga.CorrelationId, saga.BuyerId, from, currentState.Name, saga.StatusReason, now));
    }
}
