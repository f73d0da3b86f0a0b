using Brokering.Contracts.Ordering;
using MassTransit;

namespace Brokering.Ordering.Saga;

/// <summary>The saga's named steps, each written once for every state that takes it.</summary>
public static class ReservationStepBinders
{
    private static readonly TimeSpan MinimumRenewalLead = TimeSpan.FromMilliseconds(200);

    /// <summary>Sets (or moves) the cutoff timer to the saga's cutoff in force, which must be set.</summary>
    public static EventActivityBinder<ReservationState, TMessage> ArmCutoffTimer<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, Schedule<ReservationState, CutoffReached> cutoffTimer)
        where TMessage : class =>
        binder.Schedule(cutoffTimer,
            context => new CutoffReached(context.Saga.CorrelationId, context.Saga.Cutoff!.Value),
            context => context.Saga.Cutoff!.Value.UtcDateTime);

    /// <summary>
    /// Sets (or moves) the timer that renews the holds of a reservation waiting for stock, when its wait outlasts them:
    /// the cutoff (or, with none, the fill deadline) lies beyond their window. Due when half of a full window is left,
    /// or, when less is left already (a renewal inventory did not answer), after the retry interval or half of what is
    /// left, whichever is sooner.
    /// </summary>
    public static EventActivityBinder<ReservationState, TMessage> ArmHoldRenewal<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, Schedule<ReservationState, HoldRenewalDue> renewal,
        TimeProvider clock, TimeSpan holdTimeToLive, TimeSpan retry)
        where TMessage : class =>
        binder.If(context => OutlastsHolds(context.Saga, clock.GetUtcNow()),
            arm => arm.Schedule(renewal,
                context => new HoldRenewalDue(context.Saga.CorrelationId, context.Saga.HoldsExpireAt!.Value),
                context => RenewalDelay(context.Saga.HoldsExpireAt!.Value, clock.GetUtcNow(), holdTimeToLive, retry)));

    /// <inheritdoc cref="ArmHoldRenewal{TMessage}"/>
    public static EventActivityBinder<ReservationState> ArmHoldRenewal(
        this EventActivityBinder<ReservationState> binder, Schedule<ReservationState, HoldRenewalDue> renewal,
        TimeProvider clock, TimeSpan holdTimeToLive, TimeSpan retry) =>
        binder.If(context => OutlastsHolds(context.Saga, clock.GetUtcNow()),
            arm => arm.Schedule(renewal,
                context => new HoldRenewalDue(context.Saga.CorrelationId, context.Saga.HoldsExpireAt!.Value),
                context => RenewalDelay(context.Saga.HoldsExpireAt!.Value, clock.GetUtcNow(), holdTimeToLive, retry)));

    /// <summary>An instant as PostgreSQL keeps it (whole microseconds), so a timer's copy compares equal to the saga row's.</summary>
    public static DateTimeOffset ToMicrosecond(DateTimeOffset instant) =>
        new(instant.UtcTicks - instant.UtcTicks % TimeSpan.TicksPerMicrosecond, TimeSpan.Zero);

    private static bool OutlastsHolds(ReservationState saga, DateTimeOffset now) =>
        // A window all but over is left to lapse: retrying ever closer to its end would only spin.
        saga.HoldsExpireAt is { } expiry && expiry - now > MinimumRenewalLead && !(saga.Cutoff <= expiry);

    private static TimeSpan RenewalDelay(DateTimeOffset expiry, DateTimeOffset now, TimeSpan holdTimeToLive, TimeSpan retry)
    {
        var halfWay = expiry - holdTimeToLive / 2 - now;
        if (halfWay > TimeSpan.Zero)
        {
            return halfWay;
        }

        var halfLeft = (expiry - now) / 2;
        return halfLeft < retry ? halfLeft : retry;
    }

    /// <summary>
    /// The release that ends a reservation unconfirmed: its active holds, and any commit of it, whenever made. The saga
    /// learns of a commit only from inventory's answer, and that answer can be lost with the process that asked (killed
    /// after inventory committed and before its own transaction did); the saga, back in Held (or even in Screening, when the
    /// lost try screened, held and committed at once), may then end the reservation. Whatever inventory committed for it
    /// must not stand then. And no placement may land after it: a plan's call can still be in flight (its caller gave up
    /// on the answer, or the attempt that made it was rolled back, having taken the next plan version), so inventory is
    /// told to refuse every plan version up to the next one and to wait for one in flight, which it then releases too.
    /// </summary>
    public static EventActivityBinder<ReservationState, TMessage> ReleaseHoldsAndCommits<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, string reason)
        where TMessage : class =>
        binder.ReleaseHoldsAndCommits(_ => reason);

    /// <inheritdoc cref="ReleaseHoldsAndCommits{TMessage}(EventActivityBinder{ReservationState, TMessage}, string)"/>
    public static EventActivityBinder<ReservationState, TMessage> ReleaseHoldsAndCommits<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, Func<BehaviorContext<ReservationState, TMessage>, string> reason)
        where TMessage : class =>
        binder.ReleaseHolds(context => new ReleaseReservationHolds(
            context.Saga.CorrelationId, reason(context), context.Saga.SubmittedAt, RefusePlansThrough: context.Saga.PlanVersion + 1));

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
