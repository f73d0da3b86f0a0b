using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Saga;

/// <summary>
/// The life of a reservation: screened by compliance, allocated and held across distributors,
/// then committed before the cutoff, or everything released. The saga only decides and records;
/// ordering's activities make the calls to other services and report back with events.
/// </summary>
public sealed partial class ReservationStateMachine : MassTransitStateMachine<ReservationState>
{
    public ReservationStateMachine(TimeProvider clock, IOptions<OrderingOptions> options)
    {
        var holdTimeToLive = options.Value.HoldTimeToLive;
        var screeningDeadline = options.Value.ScreeningDeadline;
        var fillDeadline = options.Value.FillDeadlineWithoutCutoff;
        var renewalRetry = options.Value.HoldRenewalRetryInterval;

        InstanceState(saga => saga.CurrentState);

        Event(() => Submitted, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => Screened, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => HoldsPlaced, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => NoStockOffered, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => WindowClosed, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => ConfirmationRequested, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => CancellationRequested, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => HoldsCommitted, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => CommitRefused, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => HoldsExpired, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => TopUp, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => Shortfall, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => Rescreen, e => e.CorrelateById(m => m.Message.ReservationId));

        Schedule(() => CutoffTimer, saga => saga.CutoffTimerTokenId, timer =>
            timer.Received = e => e.CorrelateById(m => m.Message.ReservationId));
        Schedule(() => ScreeningTimer, saga => saga.ScreeningTimerTokenId, timer =>
            timer.Received = e => e.CorrelateById(m => m.Message.ReservationId));
        Schedule(() => FillDeadline, saga => saga.FillDeadlineTokenId, timer =>
            timer.Received = e => e.CorrelateById(m => m.Message.ReservationId));
        Schedule(() => HoldRenewal, saga => saga.HoldRenewalTokenId, timer =>
            timer.Received = e => e.CorrelateById(m => m.Message.ReservationId));

        // A message for a reservation that has moved on is a late arrival, not an error.
        OnUnhandledEvent(context => context.Ignore());

        Initially(
            When(Submitted)
                .Then(context => Accept(context.Saga, context.Message))
                .TransitionTo(Screening)
                .ThenAsync(ScreenAtOnceAsync)
                // Compliance did not answer at once: ask through the command, and until screened there is no cutoff
                // to end a reservation whose screening never succeeds, so a deadline does.
                .If(context => context.Saga.CurrentState == Screening.Name,
                    waiting => waiting
                        .Publish(context => RequestScreening(context.Saga))
                        .Schedule(ScreeningTimer, context => new ScreeningDeadlineReached(context.Saga.CorrelationId), _ => screeningDeadline)));

        // An officer's clearance of a potential match arrives as an approval like any other: the reservation goes on
        // from UnderReview exactly as from Screening.
        During(Screening, UnderReview,
            When(Screened, context => context.Message.Outcome == ScreeningOutcome.Approved)
                .Unschedule(ScreeningTimer)
                .Then(context => RecordApproval(context.Saga, context.Message, clock.GetUtcNow(), holdTimeToLive))
                .IfElse(context => context.Saga.Cutoff is not null && context.Saga.Cutoff <= clock.GetUtcNow(),
                    tooLate => tooLate
                        .Then(context => context.Saga.StatusReason = "The cutoff had already passed when screening finished.")
                        .ReleaseHoldsAndCommits("cutoff passed before screening finished")
                        .TransitionTo(CutoffMissed),
                    inTime => inTime
                        .TransitionTo(Allocating)
                        .ThenAsync(PlanAtOnceAsync)
                        // Set only if the reservation is still live once the steps taken at once are done: a timer set
                        // and cancelled in one transaction would cost two messages for nothing.
                        .If(context => !TerminalStates.Contains(context.Saga.CurrentState),
                            live => live.IfElse(context => context.Saga.Cutoff is not null,
                                timer => timer.ArmCutoffTimer(CutoffTimer),
                                unbounded => unbounded.Schedule(FillDeadline, context => new FillDeadlineReached(context.Saga.CorrelationId), _ => fillDeadline)))),
            When(Screened, context => context.Message.Outcome is not (ScreeningOutcome.Approved or ScreeningOutcome.PotentialMatch))
                .Unschedule(ScreeningTimer)
                .Unschedule(CutoffTimer)
                .Then(context =>
                {
                    context.Saga.DecisionId = context.Message.DecisionId;
                    context.Saga.StatusReason = RejectionReason(context.Message);
                })
                .ReleaseHoldsAndCommits("screening refused")
                .TransitionTo(Rejected),
            // A party resembles a list entry: a compliance officer decides. Nothing is held meanwhile, and the wait fails
            // closed: the screening deadline (counted from submission, as for a screening never answered) rejects it and
            // the cutoff ends it. The buyer is told it waits for review, not what resembles what.
            When(Screened, context => context.Message.Outcome == ScreeningOutcome.PotentialMatch)
                .Then(context =>
                {
                    context.Saga.DecisionId = context.Message.DecisionId;
                    // A rule change while screening may have set an earlier cutoff than this answer gives.
                    context.Saga.Cutoff = context.Saga.Cutoff is { } moved && !(context.Message.Cutoff <= moved) ? moved : context.Message.Cutoff;
                    context.Saga.StatusReason = "Awaiting a compliance officer's review of the export screening.";
                })
                .IfElse(context => context.Saga.Cutoff is not null && context.Saga.Cutoff <= clock.GetUtcNow(),
                    tooLate => tooLate
                        .Then(context => context.Saga.StatusReason = "The cutoff had already passed when screening finished.")
                        .Unschedule(ScreeningTimer)
                        .ReleaseHoldsAndCommits("cutoff passed before screening finished")
                        .TransitionTo(CutoffMissed),
                    review => review
                        .TransitionTo(UnderReview)
                        .If(context => context.Saga.ScreeningTimerTokenId is null,
                            deadline => deadline.Schedule(ScreeningTimer, context => new ScreeningDeadlineReached(context.Saga.CorrelationId),
                                context => ReviewTimeLeft(context.Saga, screeningDeadline, clock.GetUtcNow())))
                        .If(context => context.Saga.Cutoff is not null, cutoff => cutoff.ArmCutoffTimer(CutoffTimer))),
            // The rules changed while the first screening was in flight, which may have been answered under the old
            // ones: screen again, and the later answer governs (handled as a re-screen once allocating).
            When(Rescreen, context => !MovesCutoffEarlier(context.Saga, context.Message))
                .Publish(context => RequestScreening(context.Saga)),
            // A cutoff moved earlier binds at once, even before the first answer: the approval takes the earlier of it
            // and its own, and the reservation ends when it passes, however long compliance takes.
            When(Rescreen, context => MovesCutoffEarlier(context.Saga, context.Message))
                .Then(context => ApplyMovedCutoff(context.Saga, context.Message))
                .IfElse(context => context.Saga.Cutoff <= clock.GetUtcNow(),
                    past => past
                        .Then(context => context.Saga.StatusReason = "A new rule set moved the cutoff into the past before screening finished.")
                        .Unschedule(ScreeningTimer)
                        .ReleaseHoldsAndCommits("cutoff moved into the past before screening finished")
                        .TransitionTo(CutoffMissed),
                    future => future
                        .Publish(context => RequestScreening(context.Saga))
                        .ArmCutoffTimer(CutoffTimer)),
            // Nothing is held before screening, or while under review, as far as this row knows; but a step of an earlier
            // try of this reservation's events may have placed or even committed holds before its replica died and the row
            // was rolled back. So every ending that does not confirm releases them and revokes any commit (one call that
            // finds nothing when there is nothing), as the endings after allocation do.
            When(ScreeningTimer.Received)
                .Then(context => context.Saga.StatusReason = context.Saga.CurrentState == UnderReview.Name
                    ? $"No compliance officer reviewed the export screening within {screeningDeadline} of submission; it was not approved."
                    : $"Compliance could not screen the reservation within {screeningDeadline}; it was not approved.")
                .Unschedule(CutoffTimer)
                .ReleaseHoldsAndCommits("screening deadline passed")
                .TransitionTo(Rejected));

        During(Allocating,
            When(HoldsPlaced, context => context.Message.PlanVersion == context.Saga.PlanVersion)
                .Then(context => RecordHolds(context.Saga, context.Message))
                .IfElse(context => Fill.Of(context.Saga).IsComplete,
                    complete => complete.IfElse(context => context.Saga.Confirmation == Confirmation.Auto || context.Saga.ConfirmationPending,
                        auto => auto.TransitionTo(Confirming).ThenAsync(CommitAtOnceAsync),
                        manual => manual.TransitionTo(Held)),
                    shortfall => shortfall.IfElse(context => context.Saga.FillPolicy == FillPolicy.AllOrNone,
                        allOrNone => allOrNone
                            .Then(context => context.Saga.StatusReason = "Not enough stock to fill every line in full (all-or-none).")
                            .ReleaseHoldsAndCommits("all-or-none not satisfied")
                            .Unschedule(CutoffTimer)
                            .TransitionTo(Rejected),
                        partial => partial.IfElse(
                            context => (context.Saga.Confirmation == Confirmation.Auto || context.Saga.ConfirmationPending)
                                && Fill.Of(context.Saga).Satisfies(context.Saga.MinFillRatio),
                            auto => auto.TransitionTo(Confirming).ThenAsync(CommitAtOnceAsync),
                            wait => wait.TransitionTo(AwaitingStock)))),
            When(NoStockOffered, context => context.Message.PlanVersion == context.Saga.PlanVersion)
                .Then(context =>
                {
                    context.Saga.StatusReason = string.Join("; ", context.Message.Reasons);
                    context.Saga.PassedOverAt = context.Message.PassedOver ? clock.GetUtcNow() : null;
                })
                .IfElse(context => context.Saga.FillPolicy == FillPolicy.AllOrNone,
                    allOrNone => allOrNone.ReleaseHoldsAndCommits("no stock offered (all-or-none)").Unschedule(CutoffTimer).TransitionTo(Rejected),
                    partial => partial.TransitionTo(AwaitingStock)),
            // The plan came after its holds' window had closed: whatever earlier plans held lapses at that same
            // instant, so the reservation has lapsed unconfirmed, as if its holds had expired.
            When(WindowClosed, context => context.Message.PlanVersion == context.Saga.PlanVersion)
                .Then(context => context.Saga.StatusReason = "The holds' window closed before they could be placed.")
                .ReleaseHoldsAndCommits("hold window closed before allocation")
                .Unschedule(CutoffTimer)
                .TransitionTo(Expired));

        During(Held, AwaitingStock,
            When(ConfirmationRequested, context => Fill.Of(context.Saga).Satisfies(context.Saga.MinFillRatio))
                .TransitionTo(Confirming)
                .ThenAsync(CommitAtOnceAsync),
            When(HoldsExpired)
                .Then(context => context.Saga.StatusReason = "The holds lapsed before the reservation was confirmed.")
                .ReleaseHoldsAndCommits("holds expired")
                .Unschedule(CutoffTimer)
                .TransitionTo(Expired));

        During(Confirming,
            // The cutoff was moved earlier while the commit was in flight and the commit did not land strictly
            // before it: that commit does not stand, so inventory releases it with the rest.
            When(HoldsCommitted, context => context.Saga.Cutoff is { } cutoff && context.Message.CommittedAt >= cutoff)
                .Then(context => context.Saga.StatusReason =
                    $"The commit landed at {context.Message.CommittedAt:O}, not before the cutoff {context.Saga.Cutoff:O} in force; it was revoked.")
                .ReleaseHolds(context => new ReleaseReservationHolds(context.Saga.CorrelationId, "committed at or after the cutoff", context.Saga.Cutoff))
                .Unschedule(CutoffTimer)
                .TransitionTo(CutoffMissed),
            When(HoldsCommitted, context => !(context.Saga.Cutoff is { } cutoff && context.Message.CommittedAt >= cutoff))
                .Then(context =>
                {
                    // What the buyer is shown is what inventory committed, nothing more.
                    context.Saga.Allocations.RemoveAll(allocation => !context.Message.HoldIds.Contains(allocation.HoldId));
                    context.Saga.StatusReason = null;
                })
                .Unschedule(CutoffTimer)
                .TransitionTo(Confirmed),
            // A hold named by the commit was taken back because a distributor's stock fell short, while the holds'
            // window is still open: the buyer's confirmation stands and what fell short is allocated again. The other
            // holds stay. Which holds went is told by inventory's StockShortfallDetected, which may come before this
            // answer (the missing units are planned at once) or after it (the reservation waits for it in AwaitingStock).
            When(CommitRefused, context => IsShortfallRefusal(context.Saga, context.Message, clock.GetUtcNow()))
                .Then(context =>
                {
                    context.Saga.ConfirmationPending = true;
                    if (context.Message.CutoffInForce is { } inForce && !(context.Saga.Cutoff <= inForce))
                    {
                        context.Saga.Cutoff = inForce;
                    }

                    context.Saga.StatusReason = "A distributor's stock fell short while committing; re-allocating what is missing, "
                        + "and the confirmation stands.";
                })
                // The gate's screening moved the cutoff in (the saga's own re-screen may come later): time it from now on.
                .If(context => context.Saga.Cutoff is not null && context.Message.CutoffInForce == context.Saga.Cutoff,
                    moved => moved.ArmCutoffTimer(CutoffTimer))
                .IfElse(context => Fill.Of(context.Saga).IsComplete,
                    // Nothing is known to be missing yet: the shortfall's news re-allocates (as for any held reservation).
                    notYetTold => notYetTold.TransitionTo(AwaitingStock),
                    missing => missing.TransitionTo(Allocating).ThenAsync(PlanAtOnceAsync)),
            When(CommitRefused, context => !IsShortfallRefusal(context.Saga, context.Message, clock.GetUtcNow()))
                .Then(context =>
                {
                    context.Saga.StatusReason = context.Message.Reason;
                    if (context.Message.CutoffInForce is { } inForce && !(context.Saga.Cutoff <= inForce))
                    {
                        context.Saga.Cutoff = inForce;
                    }
                })
                .ReleaseHoldsAndCommits("commit refused")
                .Unschedule(CutoffTimer)
                .IfElse(context => context.Saga.Cutoff is not null && clock.GetUtcNow() >= context.Saga.Cutoff,
                    late => late.TransitionTo(CutoffMissed),
                    notLate => notLate.IfElse(context => context.Message.RefusedByCompliance,
                        refused => refused.TransitionTo(Rejected),
                        lapsed => lapsed.TransitionTo(Expired))));

        // The buyer confirmed (from Held or AwaitingStock) just as a top-up or re-allocation began:
        // remember it, so the confirmation is honoured when the plan lands instead of being lost.
        During(Allocating,
            When(ConfirmationRequested)
                .Then(context => context.Saga.ConfirmationPending = true));

        // Stock arrived for a SKU this reservation still lacks: plan again for what is missing.
        During(AwaitingStock,
            When(TopUp)
                .TransitionTo(Allocating)
                .ThenAsync(PlanAtOnceAsync));

        // A reservation waiting for stock waits until its cutoff (or, with none, its fill deadline), not only as long as
        // one window of holds lasts: what it holds is renewed half way through each window, up to the cutoff. Renewed
        // by the saga, so holds outlive it by one window at most. A renewal inventory does not answer is tried again
        // while the window is open; holds that lapse all the same end the reservation Expired, as for any lapse.
        WhenEnter(AwaitingStock, waiting => waiting.ArmHoldRenewal(HoldRenewal, clock, holdTimeToLive, renewalRetry));
        During(AwaitingStock,
            When(HoldRenewal.Received, context => IsInForce(context.Message.HoldsExpireAt, context.Saga.HoldsExpireAt))
                .ThenAsync(context => RenewHoldsAtOnceAsync(context, clock.GetUtcNow(), holdTimeToLive))
                .ArmHoldRenewal(HoldRenewal, clock, holdTimeToLive, renewalRetry));

        // A rule change while the commit is in flight: ask compliance again. An earlier cutoff is recorded (the
        // commit activity commits before the saga's cutoff as it stands when it calls inventory) and, once it has
        // passed, the holds are released: inventory serialises that release with the commit, and whichever
        // lands first decides between Confirmed (committed strictly before the cutoff) and CutoffMissed.
        // Once the cutoff has passed or a hold has lapsed, the commit in flight has either landed already or can no
        // longer land; only its answer ends the reservation, and that answer may never come (a command past its last
        // redelivery, an inventory outage longer than the redelivery schedule). So the
        // saga asks inventory again with a command of its own: a commit that already landed is answered by the
        // HoldsCommitted it published, one that has not is refused, and either ends the reservation.
        During(Confirming,
            When(Rescreen, context => !MovesCutoffEarlier(context.Saga, context.Message))
                .Then(context => context.Saga.StatusReason = $"Re-screening while committing: {context.Message.Cause}")
                .Publish(context => RequestScreening(context.Saga)),
            // A cutoff moved earlier is recorded at once, not when compliance answers the re-screen (it may be down or
            // slow): a commit retried from now on commits before it, and once it has passed the holds are released and
            // inventory asked again, as when the re-screen's answer moves it.
            When(Rescreen, context => MovesCutoffEarlier(context.Saga, context.Message))
                .Then(context =>
                {
                    ApplyMovedCutoff(context.Saga, context.Message);
                    context.Saga.StatusReason = $"A new rule set moved the cutoff to {context.Saga.Cutoff:O} while committing.";
                })
                .IfElse(context => context.Saga.Cutoff <= clock.GetUtcNow(),
                    past => past
                        .ReleaseHolds(context => new ReleaseReservationHolds(context.Saga.CorrelationId, "cutoff moved into the past while committing"))
                        .Publish(context => Commit(context.Saga)),
                    future => future
                        .Publish(context => RequestScreening(context.Saga))
                        .ArmCutoffTimer(CutoffTimer)),
            When(Screened, context => context.Message.Outcome is not (ScreeningOutcome.Denied or ScreeningOutcome.PotentialMatch)
                    && context.Message.Cutoff is { } cutoff && !(context.Saga.Cutoff <= cutoff))
                .Then(context =>
                {
                    if (context.Message.Outcome == ScreeningOutcome.Approved)
                    {
                        context.Saga.DecisionId = context.Message.DecisionId;
                    }

                    context.Saga.Cutoff = context.Message.Cutoff;
                    context.Saga.StatusReason = $"A new rule set moved the cutoff to {context.Message.Cutoff:O} while committing.";
                })
                .IfElse(context => context.Saga.Cutoff <= clock.GetUtcNow(),
                    past => past
                        .ReleaseHolds(context => new ReleaseReservationHolds(context.Saga.CorrelationId, "cutoff moved into the past while committing"))
                        .Publish(context => Commit(context.Saga)),
                    future => future.ArmCutoffTimer(CutoffTimer)),
            // An approval that leaves the cutoff where it was (the commit gate screened again after an unrelated rule
            // change, say): the commit in flight now rests on this decision.
            When(Screened, context => context.Message.Outcome == ScreeningOutcome.Approved
                    && !(context.Message.Cutoff is { } cutoff && !(context.Saga.Cutoff <= cutoff)))
                .Then(context => context.Saga.DecisionId = context.Message.DecisionId),
            // A denial (a party newly listed) decides the outcome whatever the commit does: no reservation for a listed
            // party is ever confirmed. The release revokes every commit of the reservation, so a commit that lands
            // before it is undone and one that lands after it finds its holds released; the HoldsCommitted or
            // CommitRefused that follows finds the reservation Rejected and is ignored. A potential match found now (a
            // party listed since that resembles one of the reservation's) refuses it too: a commit does not wait on a review.
            When(Screened, context => context.Message.Outcome is ScreeningOutcome.Denied or ScreeningOutcome.PotentialMatch)
                .Then(context =>
                {
                    context.Saga.DecisionId = context.Message.DecisionId;
                    context.Saga.StatusReason = RejectionReason(context.Message);
                })
                .ReleaseHolds(context => new ReleaseReservationHolds(
                    context.Saga.CorrelationId, "compliance re-screen denied while committing", context.Saga.SubmittedAt))
                .Unschedule(CutoffTimer)
                .TransitionTo(Rejected),
            When(CutoffTimer.Received, context => IsInForce(context.Message.Cutoff, context.Saga.Cutoff))
                .Then(context => context.Saga.StatusReason = "The cutoff arrived while committing.")
                .ReleaseHolds(context => new ReleaseReservationHolds(context.Saga.CorrelationId, "cutoff reached while committing"))
                .Publish(context => Commit(context.Saga)),
            When(HoldsExpired)
                .Then(context =>
                {
                    context.Saga.StatusReason = "Holds lapsed while committing.";
                    // The window is over by inventory's clock, whatever ours says: a refusal now is a lapse, not a shortfall.
                    if (!(context.Saga.HoldsExpireAt <= context.Message.ExpiredAt))
                    {
                        context.Saga.HoldsExpireAt = context.Message.ExpiredAt;
                    }
                })
                .Publish(context => Commit(context.Saga)),
            // The commit in flight names these holds, so inventory refuses it; its refusal re-allocates (see CommitRefused).
            When(Shortfall)
                .Then(context => DropHolds(context.Saga, context.Message)));

        // Rules changed (a cutoff moved, a party was listed): ask compliance again, and apply its
        // answer wherever the reservation stands.
        During(Allocating, Held, AwaitingStock,
            When(Rescreen, context => !MovesCutoffEarlier(context.Saga, context.Message))
                .Then(context => context.Saga.StatusReason = $"Re-screening: {context.Message.Cause}")
                .Publish(context => RequestScreening(context.Saga)),
            // A cutoff moved earlier binds at once, whatever compliance's re-screen later says and however long it takes.
            When(Rescreen, context => MovesCutoffEarlier(context.Saga, context.Message))
                .Then(context => ApplyMovedCutoff(context.Saga, context.Message))
                .IfElse(context => context.Saga.Cutoff <= clock.GetUtcNow(),
                    past => past
                        .Then(context => context.Saga.StatusReason = "A new rule set moved the cutoff into the past.")
                        .ReleaseHoldsAndCommits("cutoff moved into the past")
                        .Unschedule(CutoffTimer)
                        .TransitionTo(CutoffMissed),
                    future => future
                        .Then(context => context.Saga.StatusReason = $"Re-screening: {context.Message.Cause}")
                        .Publish(context => RequestScreening(context.Saga))
                        .ArmCutoffTimer(CutoffTimer)),
            // A licence now needed because the cutoff moved into the past is a missed cutoff, not a refusal.
            When(Screened, context => context.Message.Outcome == ScreeningOutcome.LicenceRequired
                    && context.Message.Cutoff is { } cutoff && cutoff <= clock.GetUtcNow())
                .Then(context =>
                {
                    context.Saga.DecisionId = context.Message.DecisionId;
                    context.Saga.Cutoff = context.Message.Cutoff;
                    context.Saga.StatusReason = "A new rule set moved the cutoff into the past.";
                })
                .ReleaseHoldsAndCommits("cutoff moved into the past")
                .Unschedule(CutoffTimer)
                .TransitionTo(CutoffMissed),
            // A potential match found by a re-screen (a party listed since resembles one of the reservation's) refuses it:
            // its holds are not kept waiting on a review.
            When(Screened, context => context.Message.Outcome is ScreeningOutcome.Denied or ScreeningOutcome.PotentialMatch
                    || (context.Message.Outcome == ScreeningOutcome.LicenceRequired && !(context.Message.Cutoff <= clock.GetUtcNow())))
                .Then(context =>
                {
                    context.Saga.DecisionId = context.Message.DecisionId;
                    context.Saga.StatusReason = RejectionReason(context.Message);
                })
                .ReleaseHoldsAndCommits("compliance re-screen refused")
                .Unschedule(CutoffTimer)
                .TransitionTo(Rejected),
            When(Screened, context => context.Message.Outcome == ScreeningOutcome.Approved && context.Message.Cutoff is { } cutoff && cutoff <= clock.GetUtcNow())
                .Then(context =>
                {
                    context.Saga.Cutoff = context.Message.Cutoff;
                    context.Saga.StatusReason = "A new rule set moved the cutoff into the past.";
                })
                .ReleaseHoldsAndCommits("cutoff moved into the past")
                .Unschedule(CutoffTimer)
                .TransitionTo(CutoffMissed),
            // A stale approval (see IsStale) can still bring the cutoff in, never take it out: the latest answer decides.
            When(Screened, context => context.Message.Outcome == ScreeningOutcome.Approved && (context.Message.Cutoff is null || context.Message.Cutoff > clock.GetUtcNow())
                    && IsStale(context.Saga, context.Message))
                .If(context => context.Message.Cutoff is { } cutoff && !(context.Saga.Cutoff <= cutoff),
                    earlier => earlier
                        .Then(context => context.Saga.Cutoff = context.Message.Cutoff)
                        .ArmCutoffTimer(CutoffTimer)
                        .Unschedule(FillDeadline)),
            When(Screened, context => context.Message.Outcome == ScreeningOutcome.Approved && (context.Message.Cutoff is null || context.Message.Cutoff > clock.GetUtcNow())
                    && !IsStale(context.Saga, context.Message))
                .Then(context =>
                {
                    context.Saga.DecisionId = context.Message.DecisionId;
                    context.Saga.Cutoff = context.Message.Cutoff;
                    context.Saga.StatusReason = null;
                })
                // A cutoff moved later leaves a waiting reservation's holds room to be renewed into.
                .If(context => context.Saga.CurrentState == AwaitingStock.Name,
                    waiting => waiting.ArmHoldRenewal(HoldRenewal, clock, holdTimeToLive, renewalRetry))
                .IfElse(context => context.Saga.Cutoff is not null,
                    timer => timer
                        .ArmCutoffTimer(CutoffTimer)
                        .Unschedule(FillDeadline),
                    // The deadline counts from the first approval without a cutoff: a re-screen does not extend it.
                    none => none
                        .Unschedule(CutoffTimer)
                        .If(context => context.Saga.FillDeadlineTokenId is null,
                            deadline => deadline.Schedule(FillDeadline, context => new FillDeadlineReached(context.Saga.CorrelationId), _ => fillDeadline))));

        // No cutoff ends this reservation's wait, so the fill deadline does. A commit already in flight (Confirming)
        // is left to finish: it commits before the holds lapse or is refused.
        During(Allocating, Held, AwaitingStock,
            When(FillDeadline.Received)
                .Then(context => context.Saga.StatusReason =
                    $"No cutoff applies and the reservation was not filled and confirmed within {fillDeadline} of its approval.")
                .ReleaseHoldsAndCommits("fill deadline reached")
                .TransitionTo(Expired));

        // However a reservation ends, its fill deadline has nothing left to end and its holds nothing left to renew.
        foreach (var terminal in new[] { Confirmed, Rejected, Cancelled, Expired, CutoffMissed })
        {
            WhenEnter(terminal, ended => ended.Unschedule(FillDeadline).Unschedule(HoldRenewal));
        }

        // A distributor's feed fell below what it held for us: drop those holds and plan again for
        // what is now missing. While allocating, the plan in flight is evaluated without them.
        During(Held, AwaitingStock,
            When(Shortfall)
                .Then(context => DropHolds(context.Saga, context.Message))
                .TransitionTo(Allocating)
                .ThenAsync(PlanAtOnceAsync));
        During(Allocating,
            When(Shortfall)
                .Then(context => DropHolds(context.Saga, context.Message)));

        During([Screening, UnderReview, Allocating, Held, AwaitingStock],
            When(CancellationRequested)
                .Then(context => context.Saga.StatusReason = $"Cancelled by {context.Message.RequestedBy}: {context.Message.Reason}")
                .ReleaseHoldsAndCommits("cancelled")
                .Unschedule(CutoffTimer)
                .Unschedule(ScreeningTimer)
                .TransitionTo(Cancelled),
            When(CutoffTimer.Received, context => IsInForce(context.Message.Cutoff, context.Saga.Cutoff))
                .Then(context => context.Saga.StatusReason = "The cutoff passed before the reservation was confirmed.")
                .ReleaseHoldsAndCommits("cutoff missed")
                // A cutoff moved earlier can pass while still screening.
                .Unschedule(ScreeningTimer)
                .TransitionTo(CutoffMissed));

        // Holds placed for a reservation that ended meanwhile must not outlive it.
        During(Rejected, Cancelled, Expired, CutoffMissed,
            When(HoldsPlaced)
                .ReleaseHoldsAndCommits(context => $"reservation already {context.Saga.CurrentState}"));

        this.ConnectStateObserver(new TransitionHistory(clock));
    }

    public State Screening { get; private set; } = null!;
    public State UnderReview { get; private set; } = null!;
    public State Allocating { get; private set; } = null!;
    public State Held { get; private set; } = null!;
    public State AwaitingStock { get; private set; } = null!;
    public State Confirming { get; private set; } = null!;
    public State Confirmed { get; private set; } = null!;
    public State Rejected { get; private set; } = null!;
    public State Cancelled { get; private set; } = null!;
    public State Expired { get; private set; } = null!;
    public State CutoffMissed { get; private set; } = null!;

    public Event<ReservationSubmitted> Submitted { get; private set; } = null!;
    public Event<ReservationScreened> Screened { get; private set; } = null!;
    public Event<HoldsPlaced> HoldsPlaced { get; private set; } = null!;
    public Event<NoStockOffered> NoStockOffered { get; private set; } = null!;
    public Event<AllocationWindowClosed> WindowClosed { get; private set; } = null!;
    public Event<ReservationConfirmationRequested> ConfirmationRequested { get; private set; } = null!;
    public Event<ReservationCancellationRequested> CancellationRequested { get; private set; } = null!;
    public Event<HoldsCommitted> HoldsCommitted { get; private set; } = null!;
    public Event<ReservationCommitRefused> CommitRefused { get; private set; } = null!;
    public Event<HoldsExpired> HoldsExpired { get; private set; } = null!;
    public Event<TopUpReservation> TopUp { get; private set; } = null!;
    public Event<StockShortfallDetected> Shortfall { get; private set; } = null!;
    public Event<RescreenReservation> Rescreen { get; private set; } = null!;

    public Schedule<ReservationState, CutoffReached> CutoffTimer { get; private set; } = null!;
    public Schedule<ReservationState, ScreeningDeadlineReached> ScreeningTimer { get; private set; } = null!;
    public Schedule<ReservationState, FillDeadlineReached> FillDeadline { get; private set; } = null!;
    public Schedule<ReservationState, HoldRenewalDue> HoldRenewal { get; private set; } = null!;

    /// <summary>Screens at once (<see cref="IReservationSteps"/>) and handles the answer as the event it is; else leaves the saga Screening.</summary>
    private async Task ScreenAtOnceAsync(BehaviorContext<ReservationState> context)
    {
        var screened = await Steps(context).ScreenAsync(context, context.Saga.CorrelationId, context.CancellationToken);
        // Unanswered, the screening may still have been filed, with units drawn.
        context.Saga.MayHoldLicenceUnits |= screened?.LicenceUnitsDrawn != false;
        if (screened is not null)
        {
            await context.Raise(Screened, screened);
        }
    }

    /// <summary>Makes the next plan, at once if inventory answers (its answer handled as the event it is), else by command.</summary>
    private async Task PlanAtOnceAsync(BehaviorContext<ReservationState> context)
    {
        var plan = NextPlan(context.Saga);
        switch (await Steps(context).PlanAsync(context, context.Saga.BuyerId, plan, context.CancellationToken))
        {
            case HoldsPlaced placed:
                await context.Raise(HoldsPlaced, placed);
                break;
            case NoStockOffered none:
                await context.Raise(NoStockOffered, none);
                break;
            case AllocationWindowClosed closed:
                await context.Raise(WindowClosed, closed);
                break;
            default:
                await context.Publish(plan, context.CancellationToken);
                break;
        }
    }

    /// <summary>Commits the holds, at once if the commit gate and inventory answer (handled as the event it is), else by command.</summary>
    private async Task CommitAtOnceAsync(BehaviorContext<ReservationState> context)
    {
        var command = Commit(context.Saga);
        switch (await Steps(context).CommitAsync(context, command, context.Saga.Cutoff, context.Saga.DecisionId, context.CancellationToken))
        {
            case HoldsCommitted committed:
                await context.Raise(HoldsCommitted, committed);
                break;
            case ReservationCommitRefused refused:
                await context.Raise(CommitRefused, refused);
                break;
            default:
                await context.Publish(command, context.CancellationToken);
                break;
        }
    }

    /// <summary>
    /// Renews the holds at once to the earlier of the cutoff and a full window from <paramref name="now"/>; when inventory
    /// does not answer, the window stays as it was and <see cref="ReservationStepBinders.ArmHoldRenewal"/> tries again.
    /// </summary>
    private static async Task RenewHoldsAtOnceAsync(BehaviorContext<ReservationState> context, DateTimeOffset now, TimeSpan holdTimeToLive)
    {
        var saga = context.Saga;
        var window = now + holdTimeToLive;
        var until = ReservationStepBinders.ToMicrosecond(saga.Cutoff is { } cutoff && cutoff < window ? cutoff : window);
        if (!(until > saga.HoldsExpireAt) || !(saga.HoldsExpireAt > now))
        {
            return;
        }

        if (await Steps(context).RenewAsync(context, saga.CorrelationId, until, context.CancellationToken) is not null)
        {
            saga.HoldsExpireAt = until;
        }
    }

    private static IReservationSteps Steps(BehaviorContext<ReservationState> context) => context.GetServiceOrCreateInstance<IReservationSteps>();

    private static void Accept(ReservationState saga, ReservationSubmitted message)
    {
        saga.BuyerId = message.BuyerId;
        saga.DestinationCountry = message.DestinationCountry;
        saga.FillPolicy = message.FillPolicy;
        saga.MinFillRatio = message.FillPolicy == FillPolicy.AllOrNone ? 1m : message.MinFillRatio;
        saga.Confirmation = message.Confirmation;
        saga.SubmittedAt = message.SubmittedAt;
        saga.Lines = [.. message.Lines];
    }

    private static void RecordApproval(ReservationState saga, ReservationScreened message, DateTimeOffset now, TimeSpan holdTimeToLive)
    {
        saga.DecisionId = message.DecisionId;
        // A rule change while screening may have set an earlier cutoff than this answer, taken under the old rules, gives.
        saga.Cutoff = saga.Cutoff is { } moved && !(message.Cutoff <= moved) ? moved : message.Cutoff;
        var expiry = now + holdTimeToLive;
        saga.HoldsExpireAt = saga.Cutoff is { } cutoff && cutoff < expiry ? cutoff : expiry;
    }

    /// <summary>
    /// How long a potential match may wait for an officer: what is left of the screening deadline counted from submission,
    /// so a review does not extend the time a reservation may go unscreened.
    /// </summary>
    private static TimeSpan ReviewTimeLeft(ReservationState saga, TimeSpan screeningDeadline, DateTimeOffset now)
    {
        var left = saga.SubmittedAt + screeningDeadline - now;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>Whether a rule change carries a cutoff earlier than the saga's (any cutoff, when the saga has none).</summary>
    private static bool MovesCutoffEarlier(ReservationState saga, RescreenReservation message) =>
        message.NewCutoff is { } moved && !(saga.Cutoff <= moved);

    /// <summary>
    /// Takes a rule change's cutoff at once, before compliance answers the re-screen: so a compliance that is down or
    /// slow cannot leave the reservation committing, or holding stock, past the cutoff now in force. Only an earlier one
    /// is taken (<see cref="MovesCutoffEarlier"/>): a cutoff moved later does not widen the window here, because the
    /// message speaks for some SKUs and destinations while the reservation's cutoff is the earliest of all its lines, a
    /// licence requirement or a listing may bind it regardless, and a narrowed window can only refuse a sale while a
    /// widened one could allow a wrong one; compliance's re-screen, which judges every line, is what may move it later.
    /// Holds planned from now on lapse no later than it.
    /// </summary>
    private static void ApplyMovedCutoff(ReservationState saga, RescreenReservation message)
    {
        saga.Cutoff = message.NewCutoff;
        if (saga.HoldsExpireAt > saga.Cutoff)
        {
            saga.HoldsExpireAt = saga.Cutoff;
        }
    }

    /// <summary>
    /// Whether a timer is for the instant in force (the cutoff, the holds' window), not one since moved. Compared to the
    /// microsecond: the saga's row keeps whole microseconds (PostgreSQL), while the timer carries the instant as it was
    /// scheduled (a compliance answer carries nanoseconds), so an exact comparison would never match such an instant and
    /// its timer would never fire.
    /// </summary>
    private static bool IsInForce(DateTimeOffset timer, DateTimeOffset? inForce) =>
        inForce is { } instant && ReservationStepBinders.ToMicrosecond(timer) == ReservationStepBinders.ToMicrosecond(instant);

    private static AllocateReservation NextPlan(ReservationState saga)
    {
        saga.PlanVersion++;
        var outstanding = saga.Lines
            .Select(line => line with { Quantity = line.Quantity - saga.Allocations.Where(a => a.Sku == line.Sku).Sum(a => a.Quantity) })
            .Where(line => line.Quantity > 0)
            .ToList();
        return new AllocateReservation(saga.CorrelationId, saga.PlanVersion, outstanding, saga.HoldsExpireAt!.Value);
    }

    private static void RecordHolds(ReservationState saga, HoldsPlaced message)
    {
        saga.HoldsExpireAt = message.ExpiresAt;
        // Inventory took the plan: whatever it held, the reservation waits for stock like any other now.
        saga.PassedOverAt = null;
        saga.Allocations.AddRange(message.Holds
            .Where(hold => hold.Held > 0)
            .Select(hold => new Allocation(hold.Sku, hold.DistributorId, hold.Warehouse, hold.HoldId, hold.Held, hold.UnitPrice, hold.Currency)));
        saga.StatusReason = Fill.Of(saga).IsComplete ? null : $"{saga.UnitsAllocated} of {saga.UnitsRequested} units held.";
    }

    /// <summary>
    /// Whether a refused commit is one to re-allocate after: inventory found a named hold no longer active, compliance had
    /// no objection, and neither the cutoff nor the holds' window has passed (a lapse inside the window is only a
    /// shortfall's doing: holds lapse at the window's end).
    /// </summary>
    private static bool IsShortfallRefusal(ReservationState saga, ReservationCommitRefused message, DateTimeOffset now) =>
        message.HoldsUnavailable && !message.RefusedByCompliance
            && !(saga.Cutoff <= now) && !(message.CutoffInForce <= now)
            && saga.HoldsExpireAt > now;

    private static void DropHolds(ReservationState saga, StockShortfallDetected message)
    {
        saga.Allocations.RemoveAll(allocation => message.HoldIds.Contains(allocation.HoldId));
        saga.StatusReason = $"{message.DistributorId} no longer has {message.UnitsShort} units of {message.Sku}; re-allocating.";
    }

    /// <summary>A screening whose answer comes back as a message, which may find the reservation ended and go unhandled.</summary>
    private static ScreenReservation RequestScreening(ReservationState saga)
    {
        saga.MayHoldLicenceUnits = true;
        saga.ScreeningRequests++;
        return new ScreenReservation(saga.CorrelationId, saga.ScreeningRequests);
    }

    /// <summary>
    /// Whether an answer is to an earlier screening request than the saga's latest: asked before a rule change the
    /// latest was asked after, it may carry the cutoff of rules since replaced. An answer taken at once, or to a request
    /// not numbered, is current.
    /// </summary>
    private static bool IsStale(ReservationState saga, ReservationScreened message) =>
        message.Request is { } request && request < saga.ScreeningRequests;

    /// <summary>
    /// A commit, taken at once or by command. Its gate screens again when the rules have moved since the decision the
    /// saga holds, and that screening's answer comes back as a message: so compliance may have drawn units.
    /// </summary>
    private static CommitReservationHolds Commit(ReservationState saga)
    {
        saga.ConfirmationPending = false;
        saga.MayHoldLicenceUnits = true;
        return new(saga.CorrelationId, saga.Cutoff ?? DateTimeOffset.MaxValue, [.. saga.Allocations.Select(allocation => allocation.HoldId)]);
    }

    /// <summary>
    /// What the buyer is told. A licence requirement is the rule's to state; a denial is not explained: its evidence (which
    /// list entry matched, how closely) would show an evader how to tune the next try, so it stays with compliance's
    /// officers under the decision id.
    /// </summary>
    private static string RejectionReason(ReservationScreened message) =>
        message.Outcome == ScreeningOutcome.LicenceRequired
            ? "An export licence is required and none is on file. " + string.Join("; ", message.Reasons)
            : string.IsNullOrEmpty(message.DecisionId)
                // Not screened at all (compliance could not take the request): the reason is the request's, not evidence.
                ? "Refused by export screening: " + string.Join("; ", message.Reasons)
                : $"Refused by export screening (decision {message.DecisionId}).";
}
