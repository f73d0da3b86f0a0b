using Brokering.Contracts.Ordering;
using MassTransit;

namespace Brokering.Ordering.Saga;

/// <summary>
/// Appends every state change to the saga's own history (the ops timeline) and announces it,
/// both inside the saga's transaction: the outbox carries the announcement.
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
        await context.Publish(new ReservationStatusChanged(saga.CorrelationId, saga.BuyerId, from, currentState.Name, saga.StatusReason, now));
    }
}
