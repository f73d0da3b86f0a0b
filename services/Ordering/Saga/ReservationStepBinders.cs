using Brokering.Contracts.Ordering;
using MassTransit;

namespace Brokering.Ordering.Saga;

/// <summary>
/// The saga's named steps, each written once for every state that takes it. Steps that name a state, an event or a
/// step taken at once read them from the machine the binder belongs to; the timers an ending stops are named where it
/// is used, because the endings differ in which timers they stop.
/// </summary>
public static class ReservationStepBinders
{
    private static readonly TimeSpan MinimumRenewalLead = TimeSpan.FromMilliseconds(200);

    /// <summary>Says why the reservation is where it is (its status reason, shown to the buyer and in the timeline).</summary>
    public static EventActivityBinder<ReservationState, TMessage> Because<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, string statusReason)
        where TMessage : class =>
        binder.Then(context => context.Saga.StatusReason = statusReason);

    /// <inheritdoc cref="Because{TMessage}(EventActivityBinder{ReservationState, TMessage}, string)"/>
    public static EventActivityBinder<ReservationState, TMessage> Because<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, Func<BehaviorContext<ReservationState, TMessage>, string> statusReason)
        where TMessage : class =>
        binder.Then(context => context.Saga.StatusReason = statusReason(context));

    /// <summary>
    /// Ends the reservation unconfirmed in <paramref name="ending"/>: releases its holds and any commit of it
    /// (<see cref="ReleaseHoldsAndCommits{TMessage}(EventActivityBinder{ReservationState, TMessage}, string)"/>, telling
    /// inventory <paramref name="releaseReason"/>), stops the timers in <paramref name="stopping"/>, and moves there.
    /// </summary>
    /// <remarks>
    /// Which timers an ending stops is the caller's to say. Stopping a timer whose token is set costs a cancellation
    /// (a <c>scheduled_message</c> statement); stopping one that is not set, or the one being delivered, does nothing.
    /// A timer left running finds the reservation ended and is ignored.
    /// </remarks>
    public static EventActivityBinder<ReservationState, TMessage> EndAs<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, State ending, string releaseReason,
        params Schedule<ReservationState>[] stopping)
        where TMessage : class =>
        binder.ReleaseHoldsAndCommits(releaseReason).Stop(stopping).TransitionTo(ending);

    /// <summary>
    /// Ends the reservation in <paramref name="ending"/> with a release of its own (<paramref name="release"/>), stops the
    /// timers in <paramref name="stopping"/>, and moves there.
    /// </summary>
    public static EventActivityBinder<ReservationState, TMessage> EndAs<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, State ending,
        Func<BehaviorContext<ReservationState, TMessage>, ReleaseReservationHolds> release, params Schedule<ReservationState>[] stopping)
        where TMessage : class =>
        // An ending, so no plan of the reservation may hold anything after it (see ReleaseHoldsAndCommits).
        binder.ReleaseHolds(context => release(context) with { RefusePlansThrough = context.Saga.PlanVersion + 1 }).Stop(stopping).TransitionTo(ending);

    /// <summary>Goes to Allocating and plans what is still missing, at once if inventory answers (<see cref="ReservationStateMachine.PlanAtOnceAsync"/>).</summary>
    public static EventActivityBinder<ReservationState, TMessage> AllocateAtOnce<TMessage>(this EventActivityBinder<ReservationState, TMessage> binder)
        where TMessage : class
    {
        var machine = Machine(binder.StateMachine);
        return binder.TransitionTo(machine.Allocating).ThenAsync(machine.PlanAtOnceAsync);
    }

    /// <summary>Goes to Confirming and commits the holds, at once if the commit gate and inventory answer (<see cref="ReservationStateMachine.CommitAtOnceAsync"/>).</summary>
    public static EventActivityBinder<ReservationState, TMessage> ConfirmAtOnce<TMessage>(this EventActivityBinder<ReservationState, TMessage> binder)
        where TMessage : class
    {
        var machine = Machine(binder.StateMachine);
        return binder.TransitionTo(machine.Confirming).ThenAsync(machine.CommitAtOnceAsync);
    }

    /// <summary>Waits for the buyer's confirmation when every line is held in full (Held), else for stock (AwaitingStock).</summary>
    public static EventActivityBinder<ReservationState, TMessage> WaitForBuyerOrStock<TMessage>(this EventActivityBinder<ReservationState, TMessage> binder)
        where TMessage : class
    {
        var machine = Machine(binder.StateMachine);
        return binder.IfElse(context => Fill.Of(context.Saga).IsComplete,
            full => full.TransitionTo(machine.Held),
            partial => partial.TransitionTo(machine.AwaitingStock));
    }

    /// <summary>
    /// Sets the timer that ends the reservation's wait, if the steps taken at once left it live: the cutoff timer when a
    /// cutoff applies, else the fill deadline. Set only then, because a timer set and cancelled in one transaction would
    /// cost two messages for nothing.
    /// </summary>
    public static EventActivityBinder<ReservationState, TMessage> ArmDeadlineIfLive<TMessage>(this EventActivityBinder<ReservationState, TMessage> binder)
        where TMessage : class
    {
        var machine = Machine(binder.StateMachine);
        return binder.If(context => !machine.TerminalStates.Contains(context.Saga.CurrentState),
            live => live.IfElse(context => context.Saga.Cutoff is not null,
                cutoff => cutoff.ArmCutoffTimer(machine.CutoffTimer),
                unbounded => unbounded.ArmFillDeadline(machine.FillDeadline, machine.FillDeadlineWithoutCutoff)));
    }

    /// <summary>Sets the fill deadline, which ends a reservation no cutoff applies to <paramref name="after"/> from now.</summary>
    public static EventActivityBinder<ReservationState, TMessage> ArmFillDeadline<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, Schedule<ReservationState, FillDeadlineReached> fillDeadline, TimeSpan after)
        where TMessage : class =>
        binder.Schedule(fillDeadline, context => new FillDeadlineReached(context.Saga.CorrelationId), _ => after);

    /// <summary>Asks compliance to screen the reservation (again) by command; its answer comes back as <c>Screened</c>.</summary>
    public static EventActivityBinder<ReservationState, TMessage> AskForScreening<TMessage>(this EventActivityBinder<ReservationState, TMessage> binder)
        where TMessage : class =>
        binder.Publish(context => RequestScreening(context.Saga));

    /// <summary>
    /// Asks inventory again, by command, to commit the holds while a commit is in flight: a commit that already landed is
    /// answered by the HoldsCommitted it published, one that has not is refused, and either answer ends the reservation.
    /// So a commit whose answer never comes (a command past its last redelivery, an inventory outage longer than the
    /// redelivery schedule) cannot leave the reservation Confirming.
    /// </summary>
    public static EventActivityBinder<ReservationState, TMessage> AskForCommitAgain<TMessage>(this EventActivityBinder<ReservationState, TMessage> binder)
        where TMessage : class =>
        binder.Publish(context => Commit(context.Saga));

    /// <summary>
    /// Once the cutoff has passed while committing: releases the holds (inventory serialises the release with the commit in
    /// flight, and whichever lands first decides between Confirmed and CutoffMissed; a commit that landed stands here) and
    /// asks for the commit again (<see cref="AskForCommitAgain"/>), whose answer ends the reservation.
    /// </summary>
    public static EventActivityBinder<ReservationState, TMessage> ReleaseAndAskForCommitAgain<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, string releaseReason)
        where TMessage : class =>
        binder.ReleaseHolds(context => new ReleaseReservationHolds(context.Saga.CorrelationId, releaseReason)).AskForCommitAgain();

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

    /// <summary>A screening whose answer comes back as a message, which may find the reservation ended and go unhandled.</summary>
    internal static ScreenReservation RequestScreening(ReservationState saga)
    {
        saga.MayHoldLicenceUnits = true;
        saga.ScreeningRequests++;
        return new ScreenReservation(saga.CorrelationId, saga.ScreeningRequests);
    }

    /// <summary>
    /// A commit, taken at once or by command. Its gate screens again when the rules have moved since the decision the
    /// saga holds, and that screening's answer comes back as a message: so compliance may have drawn units.
    /// </summary>
    internal static CommitReservationHolds Commit(ReservationState saga)
    {
        saga.ConfirmationPending = false;
        saga.MayHoldLicenceUnits = true;
        return new(saga.CorrelationId, saga.Cutoff ?? DateTimeOffset.MaxValue, [.. saga.Allocations.Select(allocation => allocation.HoldId)]);
    }

    private static EventActivityBinder<ReservationState, TMessage> Stop<TMessage>(
        this EventActivityBinder<ReservationState, TMessage> binder, Schedule<ReservationState>[] timers)
        where TMessage : class
    {
        foreach (var timer in timers)
        {
            binder = binder.Unschedule(timer);
        }

        return binder;
    }

    private static ReservationStateMachine Machine(StateMachine<ReservationState> machine) =>
        machine as ReservationStateMachine
            ?? throw new InvalidOperationException($"These steps belong to {nameof(ReservationStateMachine)}, not {machine.GetType().Name}.");
}
