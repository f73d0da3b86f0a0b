using Brokering.Contracts.Ordering;
using MassTransit;

namespace Brokering.Ordering.Saga;

/// <summary>The saga's named steps, each written once for every state that takes it.</summary>
public static class ReservationStepBinders
{
    /// <summary>Sets (or moves) the cutoff timer to the saga's cutoff in force, which must be set.</summary>
    public static EventActivityBinder<ReservationState, TMessage> ArmCutoffTimer<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, Schedule<ReservationState, CutoffReached> cutoffTimer)
        where TMessage : class =>
        binder.Schedule(cutoffTimer,
            context => new CutoffReached(context.Saga.CorrelationId, context.Saga.Cutoff!.Value),
            context => context.Saga.Cutoff!.Value.UtcDateTime);

    /// <summary>
    /// Releases the reservation's holds at once (<see cref="IReservationSteps.ReleaseAsync"/>), or, when inventory does
    /// not answer, sends <see cref="ReleaseReservationHolds"/> for its retrying consumer. Taken at once, a release costs no
    /// message, no second consume and no second transaction of the saga's service.
    /// </summary>
    public static EventActivityBinder<ReservationState, TMessage> ReleaseHolds<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder,
        Func<BehaviorContext<ReservationState, TMessage>, ReleaseReservationHolds> release)
        where TMessage : class =>
        binder.ThenAsync(async context =>
        {
            var command = release(context);
            var steps = context.GetServiceOrCreateInstance<IReservationSteps>();
            if (!await steps.ReleaseAsync(context, command, context.CancellationToken))
            {
                await context.Publish(command, context.CancellationToken);
            }
        });
}
