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
    /// The release that ends a reservation unconfirmed: its active holds, and any commit of it, whenever made. The saga
    /// learns of a commit only from inventory's answer, and that answer can be lost with the process that asked (killed
    /// after inventory committed and before its own transaction did); the saga, back in Held (or even in Screening, when the
    /// lost try screened, held and committed at once), may then end the reservation. Whatever inventory committed for it
    /// must not stand then.
    /// </summary>
    public static EventActivityBinder<ReservationState, TMessage> ReleaseHoldsAndCommits<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, string reason)
        where TMessage : class =>
        binder.ReleaseHoldsAndCommits(_ => reason);

    /// <inheritdoc cref="ReleaseHoldsAndCommits{TMessage}(EventActivityBinder{ReservationState, TMessage}, string)"/>
    public static EventActivityBinder<ReservationState, TMessage> ReleaseHoldsAndCommits<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, Func<BehaviorContext<ReservationState, TMessage>, string> reason)
        where TMessage : class =>
        binder.ReleaseHolds(context => new ReleaseReservationHolds(context.Saga.CorrelationId, reason(context), context.Saga.SubmittedAt));

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
