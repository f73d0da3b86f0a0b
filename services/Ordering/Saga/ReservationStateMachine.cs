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
/// <remarks>
/// The constructor tells the story state by state, in the order a reservation lives them: Submitted, Screening (and
/// UnderReview, a screening waiting for an officer), Allocating, Held, AwaitingStock, Confirming, and the ended states.
/// What several states do alike (a rule change's re-screen, a cancellation, the cutoff passing) is declared once, as a
/// group of event activities each of those states lists. The steps themselves are named in
/// <see cref="ReservationStepBinders"/>; where this machine is registered and how its endpoint runs, in
/// <see cref="ReservationStateMachineDefinition"/>.
/// </remarks>
public sealed partial class ReservationStateMachine : MassTransitStateMachine<ReservationState>
{
    private readonly TimeProvider clock;
    private readonly TimeSpan holdTimeToLive;
    private readonly TimeSpan screeningDeadline;
    private readonly TimeSpan renewalRetry;

    public ReservationStateMachine(TimeProvider clock, IOptions<OrderingOptions> options)
    {
        this.clock = clock;
        holdTimeToLive = options.Value.HoldTimeToLive;
        screeningDeadline = options.Value.ScreeningDeadline;
        FillDeadlineWithoutCutoff = options.Value.FillDeadlineWithoutCutoff;
        renewalRetry = options.Value.HoldRenewalRetryInterval;

        InstanceState(saga => saga.CurrentState);

        Event(() => Submitted, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => Screened, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => HoldsPlaced, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => NoStockOffered, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => WindowClosed, e => e.CorrelateById(m => m.Message.ReservationId));
        Event(() => ConfirmationRequested, e => e.CorrelateById(m => m.Message.ReservationId));
        // A buyer may cancel as soon as the submission is accepted, before the saga has its row (the desk publishes the
        // request whatever it finds then): the request is failed and so retried (ActivityRetry) until the saga has
        // started, instead of being dropped as a message for no reservation, which left the reservation running.
        Event(() => CancellationRequested, e =>
        {
            e.CorrelateById(m => m.Message.ReservationId);
            e.OnMissingInstance(missing => missing.Fault());
        });
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

        // Submitted: screened at once if compliance answers. Else asked by command, and until screened there is no
        // cutoff to end a reservation whose screening never succeeds, so the screening deadline does.
        Initially(
            When(Submitted)
                .Then(context => Accept(context.Saga, context.Message))
                .TransitionTo(Screening)
                .ThenAsync(ScreenAtOnceAsync)
                .If(context => context.Saga.CurrentState == Screening.Name,
                    waiting => waiting
                        .AskForScreening()
                        .Schedule(ScreeningTimer, context => new ScreeningDeadlineReached(context.Saga.CorrelationId), _ => screeningDeadline)));

        // Screening, and UnderReview (a potential match waiting for a compliance officer): compliance's answer decides.
        // An officer's clearance arrives as an approval like any other, so both states take the same answers.
        During(Screening, UnderReview,
        [
            When(Screened, context => context.Message.Outcome == ScreeningOutcome.Approved)
                .Unschedule(ScreeningTimer)
                .Then(context => RecordApproval(context.Saga, context.Message, clock.GetUtcNow(), holdTimeToLive))
                .IfElse(CutoffPassed,
                    tooLate => tooLate
                        .Because("The cutoff had already passed when screening finished.")
                        .EndAs(CutoffMissed, "cutoff passed before screening finished"),
                    inTime => inTime
                        .AllocateAtOnce()
                        .ArmDeadlineIfLive()),
            When(Screened, context => context.Message.Outcome is not (ScreeningOutcome.Approved or ScreeningOutcome.PotentialMatch))
                .Then(context =>
                {
                    context.Saga.DecisionId = context.Message.DecisionId;
                    context.Saga.StatusReason = RejectionReason(context.Message);
                })
                .EndAs(Rejected, "screening refused", CutoffTimer, ScreeningTimer),
            // A party resembles a list entry: a compliance officer decides. Nothing is held meanwhile, and the wait fails
            // closed: the screening deadline (counted from submission, as for a screening never answered) rejects it and
            // the cutoff ends it. The buyer is told it waits for review, not what resembles what.
            When(Screened, context => context.Message.Outcome == ScreeningOutcome.PotentialMatch)
                .Then(context =>
                {
                    context.Saga.DecisionId = context.Message.DecisionId;
                    KeepEarlierCutoff(context.Saga, context.Message);
                    context.Saga.StatusReason = "Awaiting a compliance officer's review of the export screening.";
                    // An officer's clearance screens again and may draw units, whenever it comes: so however this
                    // reservation ends unconfirmed, compliance is told, gives back what was drawn and refuses later rulings.
                    context.Saga.MayHoldLicenceUnits = true;
                })
                .IfElse(CutoffPassed,
                    tooLate => tooLate
                        .Because("The cutoff had already passed when screening finished.")
                        .EndAs(CutoffMissed, "cutoff passed before screening finished", ScreeningTimer),
                    review => review
                        .TransitionTo(UnderReview)
                        .If(context => context.Saga.ScreeningTimerTokenId is null,
                            deadline => deadline.Schedule(ScreeningTimer, context => new ScreeningDeadlineReached(context.Saga.CorrelationId),
                                context => ReviewTimeLeft(context.Saga, screeningDeadline, clock.GetUtcNow())))
                        .If(context => context.Saga.Cutoff is not null, cutoff => cutoff.ArmCutoffTimer(CutoffTimer))),
            // The rules changed while the first screening was in flight, which may have been answered under the old
            // ones: screen again, and the later answer governs (handled as a re-screen once allocating).
            When(Rescreen, context => !MovesCutoffEarlier(context.Saga, context.Message))
                .AskForScreening(),
            // A cutoff moved earlier binds at once, even before the first answer: the approval takes the earlier of it
            // and its own, and the reservation ends when it passes, however long compliance takes.
            When(Rescreen, context => MovesCutoffEarlier(context.Saga, context.Message))
                .Then(context => ApplyMovedCutoff(context.Saga, context.Message))
                .IfElse(CutoffPassed,
                    past => past
                        .Because("A new rule set moved the cutoff into the past before screening finished.")
                        .EndAs(CutoffMissed, "cutoff moved into the past before screening finished", ScreeningTimer),
                    future => future
                        .AskForScreening()
                        .ArmCutoffTimer(CutoffTimer)),
            When(ScreeningTimer.Received)
                .Because(context => context.Saga.CurrentState == UnderReview.Name
                    ? $"No compliance officer reviewed the export screening within {screeningDeadline} of submission; it was not approved."
                    : $"Compliance could not screen the reservation within {screeningDeadline}; it was not approved.")
                .EndAs(Rejected, "screening deadline passed", CutoffTimer),
            .. EndsUnconfirmedWhileLive(),
        ]);

        // Allocating: a plan is in flight; its holds decide what the reservation waits for next.
        During(Allocating,
        [
            When(HoldsPlaced, context => context.Message.PlanVersion == context.Saga.PlanVersion)
                .Then(context => RecordHolds(context.Saga, context.Message))
                .IfElse(context => FallsShortOfAllOrNone(context.Saga),
                    allOrNone => allOrNone.IfElse(context => WasOutrunToStock(context.Saga, context.Message),
                        // Other reservations took the offers this plan counted on between inventory's answer and the
                        // placement (a distributor running out in a scramble): what is held stays, and what is missing
                        // is planned again on the offers as they stand now, before all-or-none is judged.
                        outrun => outrun.AllocateAtOnce(),
                        shortOfStock => shortOfStock
                            .Because("Not enough stock to fill every line in full (all-or-none).")
                            .EndAs(Rejected, "all-or-none not satisfied", CutoffTimer)),
                    holding => holding.IfElse(context => ConfirmsWhatIsHeld(context.Saga),
                        confirm => confirm.ConfirmAtOnce(),
                        wait => wait.WaitForBuyerOrStock())),
            When(NoStockOffered, context => context.Message.PlanVersion == context.Saga.PlanVersion)
                .Then(context =>
                {
                    context.Saga.StatusReason = string.Join("; ", context.Message.Reasons);
                    context.Saga.PassedOverAt = context.Message.PassedOver ? clock.GetUtcNow() : null;
                })
                .IfElse(context => context.Saga.FillPolicy == FillPolicy.AllOrNone,
                    allOrNone => allOrNone.EndAs(Rejected, "no stock offered (all-or-none)", CutoffTimer),
                    partial => partial.TransitionTo(AwaitingStock)),
            // The plan came after its holds' window had closed: whatever earlier plans held lapses at that same
            // instant, so the reservation has lapsed unconfirmed, as if its holds had expired.
            When(WindowClosed, context => context.Message.PlanVersion == context.Saga.PlanVersion)
                .Because("The holds' window closed before they could be placed.")
                .EndAs(Expired, "hold window closed before allocation", CutoffTimer),
            // The buyer confirmed (from Held or AwaitingStock) just as a top-up or re-allocation began:
            // remember it, so the confirmation is honoured when the plan lands instead of being lost.
            When(ConfirmationRequested)
                .Then(context => context.Saga.ConfirmationPending = true),
            // A distributor's feed fell below what it held for us: the plan in flight is evaluated without those holds.
            When(Shortfall)
                .Then(context => DropHolds(context.Saga, context.Message)),
            .. RuleChangeOnceApproved(),
            FillDeadlinePasses(),
            .. EndsUnconfirmedWhileLive(),
        ]);

        // Held: every line is held in full; the buyer confirms, or the holds lapse.
        During(Held,
        [
            .. WaitingOnHolds(),
            .. RuleChangeOnceApproved(),
            FillDeadlinePasses(),
            .. EndsUnconfirmedWhileLive(),
        ]);

        // AwaitingStock: part is held, and the reservation waits for stock (or the buyer's confirmation of what is held)
        // until its cutoff (or, with none, its fill deadline), not only as long as one window of holds lasts: what it
        // holds is renewed half way through each window, up to the cutoff. Renewed by the saga, so holds outlive it by
        // one window at most. A renewal inventory does not answer is tried again while the window is open; holds that
        // lapse all the same end the reservation Expired, as for any lapse.
        During(AwaitingStock,
        [
            When(AwaitingStock.Enter)
                .ArmHoldRenewal(HoldRenewal, clock, holdTimeToLive, renewalRetry),
            // Stock arrived for a SKU this reservation still lacks: plan again for what is missing.
            When(TopUp)
                .AllocateAtOnce(),
            When(HoldRenewal.Received, context => IsInForce(context.Message.HoldsExpireAt, context.Saga.HoldsExpireAt))
                .ThenAsync(context => RenewHoldsAtOnceAsync(context, clock.GetUtcNow(), holdTimeToLive))
                .ArmHoldRenewal(HoldRenewal, clock, holdTimeToLive, renewalRetry),
            .. WaitingOnHolds(),
            .. RuleChangeOnceApproved(),
            FillDeadlinePasses(),
            .. EndsUnconfirmedWhileLive(),
        ]);

        // Confirming: a commit is in flight; only its answer ends the reservation. Whatever happens meanwhile (a rule
        // change, the cutoff, a lapse) is recorded, and once the commit can no longer stand the holds are released and
        // inventory asked again (ReleaseAndAskForCommitAgain), so an answer that never comes cannot leave it here.
        // A commit already in flight is not cancelled, nor ended by the fill deadline: it commits before the holds
        // lapse or is refused.
        During(Confirming,
        [
            // The cutoff was moved earlier while the commit was in flight and the commit did not land strictly
            // before it: that commit does not stand, so inventory releases it with the rest.
            When(HoldsCommitted, context => context.Saga.Cutoff is { } cutoff && context.Message.CommittedAt >= cutoff)
                .Because(context =>
                    $"The commit landed at {context.Message.CommittedAt:O}, not before the cutoff {context.Saga.Cutoff:O} in force; it was revoked.")
                .EndAs(CutoffMissed,
                    context => new ReleaseReservationHolds(context.Saga.CorrelationId, "committed at or after the cutoff", context.Saga.Cutoff),
                    CutoffTimer),
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
                    TakeCutoffInForce(context.Saga, context.Message);
                    context.Saga.StatusReason = "A distributor's stock fell short while committing; re-allocating what is missing, "
                        + "and the confirmation stands.";
                })
                // The gate's screening moved the cutoff in (the saga's own re-screen may come later): time it from now on.
                .If(context => context.Saga.Cutoff is not null && context.Message.CutoffInForce == context.Saga.Cutoff,
                    moved => moved.ArmCutoffTimer(CutoffTimer))
                .IfElse(context => Fill.Of(context.Saga).IsComplete,
                    // Nothing is known to be missing yet: the shortfall's news re-allocates (as for any held reservation).
                    notYetTold => notYetTold.TransitionTo(AwaitingStock),
                    missing => missing.AllocateAtOnce()),
            // Refused otherwise: released, and ended as the refusal says (decided once the release is done).
            When(CommitRefused, context => !IsShortfallRefusal(context.Saga, context.Message, clock.GetUtcNow()))
                .Then(context =>
                {
                    context.Saga.StatusReason = context.Message.Reason;
                    TakeCutoffInForce(context.Saga, context.Message);
                })
                .ReleaseHoldsAndCommits("commit refused")
                .Unschedule(CutoffTimer)
                .IfElse(CutoffPassed,
                    late => late.TransitionTo(CutoffMissed),
                    notLate => notLate.IfElse(context => context.Message.RefusedByCompliance,
                        refused => refused.TransitionTo(Rejected),
                        lapsed => lapsed.TransitionTo(Expired))),
            // A rule change while the commit is in flight: ask compliance again. The commit activity commits before the
            // saga's cutoff as it stands when it calls inventory.
            When(Rescreen, context => !MovesCutoffEarlier(context.Saga, context.Message))
                .Because(context => $"Re-screening while committing: {context.Message.Cause}")
                .AskForScreening(),
            // A cutoff moved earlier is recorded at once, not when compliance answers the re-screen (it may be down or
            // slow): a commit retried from now on commits before it, and once it has passed the holds are released and
            // inventory asked again, as when the re-screen's answer moves it.
            When(Rescreen, context => MovesCutoffEarlier(context.Saga, context.Message))
                .Then(context =>
                {
                    ApplyMovedCutoff(context.Saga, context.Message);
                    context.Saga.StatusReason = $"A new rule set moved the cutoff to {context.Saga.Cutoff:O} while committing.";
                })
                .IfElse(CutoffPassed,
                    past => past.ReleaseAndAskForCommitAgain("cutoff moved into the past while committing"),
                    future => future
                        .AskForScreening()
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
                .IfElse(CutoffPassed,
                    past => past.ReleaseAndAskForCommitAgain("cutoff moved into the past while committing"),
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
                .EndAs(Rejected, "compliance re-screen denied while committing", CutoffTimer),
            When(CutoffTimer.Received, context => IsInForce(context.Message.Cutoff, context.Saga.Cutoff))
                .Because("The cutoff arrived while committing.")
                .ReleaseAndAskForCommitAgain("cutoff reached while committing"),
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
                .AskForCommitAgain(),
            // The commit in flight names these holds, so inventory refuses it; its refusal re-allocates (see CommitRefused).
            When(Shortfall)
                .Then(context => DropHolds(context.Saga, context.Message)),
        ]);

        // Ended: however a reservation ends, its fill deadline has nothing left to end and its holds nothing left to
        // renew. Holds placed for a reservation that ended unconfirmed meanwhile must not outlive it.
        During(Confirmed, StopsItsTimers(Confirmed));
        var lateHoldsReleased = When(HoldsPlaced).ReleaseHoldsAndCommits(context => $"reservation already {context.Saga.CurrentState}");
        foreach (var unconfirmed in new[] { Rejected, Cancelled, Expired, CutoffMissed })
        {
            During(unconfirmed, StopsItsTimers(unconfirmed), lateHoldsReleased);
        }

        this.ConnectStateObserver(new TransitionHistory(clock));
    }

    /// <summary>
    /// Held and AwaitingStock: stock is held for the buyer. A confirmation of enough of it commits at once; holds that
    /// lapse first end the reservation; a distributor's feed that fell below what it held for us drops those holds
    /// and plans again for what is now missing.
    /// </summary>
    private EventActivities<ReservationState>[] WaitingOnHolds() =>
    [
        When(ConfirmationRequested, context => Fill.Of(context.Saga).Satisfies(context.Saga.MinFillRatio))
            .ConfirmAtOnce(),
        When(HoldsExpired)
            .Because("The holds lapsed before the reservation was confirmed.")
            .EndAs(Expired, "holds expired", CutoffTimer),
        When(Shortfall)
            .Then(context => DropHolds(context.Saga, context.Message))
            .AllocateAtOnce(),
    ];

    /// <summary>
    /// Allocating, Held and AwaitingStock: rules changed (a cutoff moved, a party was listed). Compliance is asked
    /// again and its answer applied wherever the reservation stands; a cutoff moved earlier binds at once, whatever the
    /// re-screen later says and however long it takes.
    /// </summary>
    private EventActivities<ReservationState>[] RuleChangeOnceApproved() =>
    [
        When(Rescreen, context => !MovesCutoffEarlier(context.Saga, context.Message))
            .Because(context => $"Re-screening: {context.Message.Cause}")
            .AskForScreening(),
        When(Rescreen, context => MovesCutoffEarlier(context.Saga, context.Message))
            .Then(context => ApplyMovedCutoff(context.Saga, context.Message))
            .IfElse(CutoffPassed,
                past => past
                    .Because("A new rule set moved the cutoff into the past.")
                    .EndAs(CutoffMissed, "cutoff moved into the past", CutoffTimer),
                future => future
                    .Because(context => $"Re-screening: {context.Message.Cause}")
                    .AskForScreening()
                    .ArmCutoffTimer(CutoffTimer)),
        // A licence now needed because the cutoff moved into the past is a missed cutoff, not a refusal.
        When(Screened, context => context.Message.Outcome == ScreeningOutcome.LicenceRequired && AnswerCutoffPassed(context))
            .Then(context =>
            {
                context.Saga.DecisionId = context.Message.DecisionId;
                context.Saga.Cutoff = context.Message.Cutoff;
                context.Saga.StatusReason = "A new rule set moved the cutoff into the past.";
            })
            .EndAs(CutoffMissed, "cutoff moved into the past", CutoffTimer),
        // A potential match found by a re-screen (a party listed since resembles one of the reservation's) refuses it:
        // its holds are not kept waiting on a review.
        When(Screened, context => context.Message.Outcome is ScreeningOutcome.Denied or ScreeningOutcome.PotentialMatch
                || (context.Message.Outcome == ScreeningOutcome.LicenceRequired && !AnswerCutoffPassed(context)))
            .Then(context =>
            {
                context.Saga.DecisionId = context.Message.DecisionId;
                context.Saga.StatusReason = RejectionReason(context.Message);
            })
            .EndAs(Rejected, "compliance re-screen refused", CutoffTimer),
        When(Screened, context => context.Message.Outcome == ScreeningOutcome.Approved && AnswerCutoffPassed(context))
            .Then(context =>
            {
                context.Saga.Cutoff = context.Message.Cutoff;
                context.Saga.StatusReason = "A new rule set moved the cutoff into the past.";
            })
            .EndAs(CutoffMissed, "cutoff moved into the past", CutoffTimer),
        // A stale approval (see IsStale) can still bring the cutoff in, never take it out: the latest answer decides.
        When(Screened, context => context.Message.Outcome == ScreeningOutcome.Approved && !AnswerCutoffPassed(context)
                && IsStale(context.Saga, context.Message))
            .If(context => context.Message.Cutoff is { } cutoff && !(context.Saga.Cutoff <= cutoff),
                earlier => earlier
                    .Then(context => context.Saga.Cutoff = context.Message.Cutoff)
                    .ArmCutoffTimer(CutoffTimer)
                    .Unschedule(FillDeadline)),
        When(Screened, context => context.Message.Outcome == ScreeningOutcome.Approved && !AnswerCutoffPassed(context)
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
                        deadline => deadline.ArmFillDeadline(FillDeadline, FillDeadlineWithoutCutoff))),
    ];

    /// <summary>
    /// Allocating, Held and AwaitingStock: no cutoff ends this reservation's wait, so the fill deadline does. (A commit
    /// already in flight, in Confirming, is left to finish.)
    /// </summary>
    private EventActivities<ReservationState> FillDeadlinePasses() =>
        When(FillDeadline.Received)
            .Because($"No cutoff applies and the reservation was not filled and confirmed within {FillDeadlineWithoutCutoff} of its approval.")
            .EndAs(Expired, "fill deadline reached");

    /// <summary>
    /// Every live state before Confirming: the buyer or ops cancels, or the cutoff passes unconfirmed. Nothing is held
    /// before screening, or while under review, as far as the saga's row knows; but a step of an earlier try of this
    /// reservation's events may have placed or even committed holds before its replica died and the row was rolled
    /// back. So every ending that does not confirm releases them and revokes any commit (one call that finds nothing
    /// when there is nothing).
    /// </summary>
    private EventActivities<ReservationState>[] EndsUnconfirmedWhileLive() =>
    [
        When(CancellationRequested)
            .Because(context => $"Cancelled by {context.Message.RequestedBy}: {context.Message.Reason}")
            .EndAs(Cancelled, "cancelled", CutoffTimer, ScreeningTimer),
        // A cutoff moved earlier can pass while still screening: the screening deadline has nothing left to end.
        When(CutoffTimer.Received, context => IsInForce(context.Message.Cutoff, context.Saga.Cutoff))
            .Because("The cutoff passed before the reservation was confirmed.")
            .EndAs(CutoffMissed, "cutoff missed", ScreeningTimer),
    ];

    private EventActivities<ReservationState> StopsItsTimers(State ended) =>
        When(ended.Enter).Unschedule(FillDeadline).Unschedule(HoldRenewal);

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

    /// <summary>How long a reservation no cutoff applies to may take from its approval to be filled and confirmed.</summary>
    internal TimeSpan FillDeadlineWithoutCutoff { get; }

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
    internal async Task PlanAtOnceAsync(BehaviorContext<ReservationState> context)
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
    internal async Task CommitAtOnceAsync(BehaviorContext<ReservationState> context)
    {
        var command = ReservationStepBinders.Commit(context.Saga);
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

    /// <summary>Whether the cutoff in force has passed (never, while none applies).</summary>
    private bool CutoffPassed(BehaviorContext<ReservationState> context) => context.Saga.Cutoff <= clock.GetUtcNow();

    /// <summary>Whether a screening answer carries a cutoff that has passed already.</summary>
    private bool AnswerCutoffPassed(BehaviorContext<ReservationState, ReservationScreened> context) => context.Message.Cutoff <= clock.GetUtcNow();

    /// <summary>Whether the holds leave an all-or-none reservation short of some line: it is refused.</summary>
    private static bool FallsShortOfAllOrNone(ReservationState saga) => saga.FillPolicy == FillPolicy.AllOrNone && !Fill.Of(saga).IsComplete;

    /// <summary>How many plans an all-or-none reservation may make while others outrun it to the offers it counted on.</summary>
    internal const int AllOrNonePlansAtMost = 4;

    /// <summary>
    /// Whether a placement got less than it asked of some distributor (that stock went to others between the offers and
    /// the placement), so planning again on the offers as they are now may still fill the reservation; at most
    /// <see cref="AllOrNonePlansAtMost"/> plans, so a reservation that keeps being outrun is refused all the same.
    /// </summary>
    private static bool WasOutrunToStock(ReservationState saga, HoldsPlaced message) =>
        message.Holds.Any(hold => hold.Held < hold.Requested) && saga.PlanVersion < AllOrNonePlansAtMost;

    /// <summary>
    /// Whether what is held is committed at once: the buyer asked for it (automatic confirmation, or a confirmation that
    /// raced the plan), and every line is held in full or, short of that, enough to satisfy the fill ratio.
    /// </summary>
    private static bool ConfirmsWhatIsHeld(ReservationState saga) =>
        (saga.Confirmation == Confirmation.Auto || saga.ConfirmationPending)
            && (Fill.Of(saga).IsComplete || Fill.Of(saga).Satisfies(saga.MinFillRatio));

    /// <summary>A rule change while screening may have set an earlier cutoff than a screening answer, taken under the old rules, gives.</summary>
    private static void KeepEarlierCutoff(ReservationState saga, ReservationScreened message) =>
        saga.Cutoff = saga.Cutoff is { } moved && !(message.Cutoff <= moved) ? moved : message.Cutoff;

    /// <summary>The commit gate's screening may have moved the cutoff in: a refusal carries the cutoff it found in force.</summary>
    private static void TakeCutoffInForce(ReservationState saga, ReservationCommitRefused message)
    {
        if (message.CutoffInForce is { } inForce && !(saga.Cutoff <= inForce))
        {
            saga.Cutoff = inForce;
        }
    }

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
        KeepEarlierCutoff(saga, message);
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

    /// <summary>
    /// Whether an answer is to an earlier screening request than the saga's latest: asked before a rule change the
    /// latest was asked after, it may carry the cutoff of rules since replaced. An answer taken at once, or to a request
    /// not numbered, is current.
    /// </summary>
    private static bool IsStale(ReservationState saga, ReservationScreened message) =>
        message.Request is { } request && request < saga.ScreeningRequests;

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
