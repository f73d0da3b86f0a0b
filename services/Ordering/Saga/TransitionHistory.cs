using Brokering.Ordering.Ops;
using Brokering.Contracts.Ordering;
using Brokering.Messaging.Postgres;
using Brokering.Ordering.Data;
using Brokering.Ordering.Reservations.Changes;
using MassTransit;

namespace Brokering.Ordering.Saga;

/// <summary>
/// Appends every state change to the saga's own history (the ops timeline) and to the buyer's change feed, and
/// announces an unconfirmed end to whoever may have set something aside for the reservation (compliance's licence
/// units, <see cref="ReservationState.MayHoldLicenceUnits"/>),
/// all inside the saga's transaction: the outbox carries the announcement. Nothing else is published per
/// transition: buyers read the feed, and no service needs the other transitions.
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
        var from = previousState?.Name is null or "Initial" ? StateMachineDiagram.InitialState : previousState.Name;
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

        // Only compliance's licence units are set aside for a reservation by anyone who needs telling: a reservation
        // compliance drew none for has nothing to give back, and most reservations need no licence.
        if (ReservationStates.Declared.EndedUnconfirmed.Contains(currentState.Name) && saga.MayHoldLicenceUnits)
        {
            await context.Publish(new ReservationEndedUnconfirmed(saga.CorrelationId, saga.BuyerId, currentState.Name, saga.StatusReason, now));
        }
    }
}
