namespace Brokering.Contracts.Ordering;

// The saga decides and records; these commands ask ordering's activities to do the
// network calls (gRPC to compliance and inventory) outside the saga's transaction,
// and the activities report back with events.

/// <summary>Ask compliance to screen a reservation (again, after a rule change).</summary>
/// <param name="ReservationId">Reservation id; the activity reads the reservation as it was accepted.</param>
/// <param name="Request">The saga's number for this request (1, 2, …), echoed in the answer
/// (<see cref="ReservationScreened.Request"/>), so the saga knows an answer to an earlier request, possibly decided under
/// rules since replaced, from the answer to its latest. Null from an older ordering.</param>
public sealed record ScreenReservation(Guid ReservationId, int? Request = null);

/// <summary>The outcome of screening a line.</summary>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Outcome">Approved, Denied or LicenceRequired (a line is never a potential match: that is a party's finding,
/// told for the whole reservation).</param>
/// <param name="Cutoff">After this instant the line needs a licence; null when none applies.</param>
/// <param name="Reasons">Why.</param>
public sealed record ScreenedLine(string Sku, ScreeningOutcome Outcome, DateTimeOffset? Cutoff, IReadOnlyList<string> Reasons);

/// <summary>The outcome of screening.</summary>
public enum ScreeningOutcome
{
    /// <summary>May proceed until the cutoff.</summary>
    Approved,

    /// <summary>May not proceed.</summary>
    Denied,

    /// <summary>Needs a licence that is not on file.</summary>
    LicenceRequired,

    /// <summary>
    /// A party resembles a restricted-party entry closely enough to need a person, not closely enough to deny: the
    /// decision waits for a compliance officer's review, and nothing may proceed on it. The officer's ruling arrives as a
    /// later <see cref="ReservationScreened"/> (cleared: the outcome screening gives with the resemblance set aside, an
    /// approval in the ordinary case; confirmed: <see cref="Denied"/>). Added after the first three: a consumer that
    /// does not know it must treat it as <see cref="Denied"/>.
    /// </summary>
    PotentialMatch,
}

/// <summary>
/// Compliance screened a reservation: published by ordering's screening activity with compliance's answer, and by
/// compliance itself, through its outbox, when an officer rules on a potential match (clears it or confirms it).
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="DecisionId">Compliance's stored decision.</param>
/// <param name="Outcome">Approved only when every line is; <see cref="ScreeningOutcome.PotentialMatch"/> when a party
/// awaits an officer's review.</param>
/// <param name="Cutoff">The earliest cutoff of all lines; null when none applies.</param>
/// <param name="Lines">Per line.</param>
/// <param name="Reasons">Why, for a person.</param>
/// <param name="LicenceUnitsDrawn">Whether this decision set licence units aside for the reservation, which compliance gives
/// back when told the reservation ended unconfirmed; null when not known (an older compliance, or no decision at all),
/// which counts as possibly.</param>
/// <param name="Request">The <see cref="ScreenReservation.Request"/> this answers; null for a screening the saga took at once
/// within its own step (never stale), or one asked for by an older ordering.</param>
public sealed record ReservationScreened(
    Guid ReservationId,
    string DecisionId,
    ScreeningOutcome Outcome,
    DateTimeOffset? Cutoff,
    IReadOnlyList<ScreenedLine> Lines,
    IReadOnlyList<string> Reasons,
    bool? LicenceUnitsDrawn = null,
    int? Request = null);

/// <summary>Ask the allocation activity to split the lines across distributors' offers and hold them.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="PlanVersion">Version of the allocation plan; inventory's idempotency key with the id.</param>
/// <param name="Lines">What still needs holding, per SKU.</param>
/// <param name="HoldsExpireAt">When the holds lapse (no later than the cutoff).</param>
public sealed record AllocateReservation(Guid ReservationId, int PlanVersion, IReadOnlyList<ReservationLine> Lines, DateTimeOffset HoldsExpireAt);

/// <summary>Ask the commit activity to commit the reservation's holds before the cutoff.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="CommitBefore">The cutoff in force; nothing is committed at or after it.</param>
/// <param name="HoldIds">
/// The holds of the saga's allocations: inventory commits all of them or none (absent in a command sent before this
/// field existed: every active hold of the reservation).
/// </param>
public sealed record CommitReservationHolds(Guid ReservationId, DateTimeOffset CommitBefore, IReadOnlyList<Guid>? HoldIds);

/// <summary>
/// The commit did not happen: inventory refused it (a hold expired or was released, or the cutoff passed), or the commit
/// gate did, because the rules in force when the commit was due no longer allowed the sale.
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="Reason">Why, for the reservation's status.</param>
/// <param name="CutoffInForce">The cutoff in force when the gate screened again, when it gave one: the saga may not have
/// heard of it yet (its own re-screen may arrive after this message).</param>
/// <param name="RefusedByCompliance">True when the gate's fresh screening did not approve the sale (a denial, or a licence
/// now required), rather than the cutoff having passed.</param>
/// <param name="HoldsUnavailable">True when inventory refused because a named hold was no longer active (lapsed, released,
/// or taken back when a distributor's stock fell short), not because the deadline had passed. Before its hold window
/// closes, the saga re-allocates what fell short instead of ending the reservation.</param>
public sealed record ReservationCommitRefused(
    Guid ReservationId, string Reason, DateTimeOffset? CutoffInForce = null, bool RefusedByCompliance = false, bool HoldsUnavailable = false);

/// <summary>Ask the release activity to release every active hold of a reservation.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="Reason">Why; kept with the holds.</param>
/// <param name="RevokeCommitsFrom">
/// When set, holds committed at or after this instant are released too: a commit that landed at or after
/// a cutoff moved earlier while it was in flight does not stand. Null releases active holds only.
/// </param>
/// <param name="RefusePlansThrough">
/// Set by a release that ends the reservation: every plan version up to this one that inventory has not placed yet
/// holds nothing, ever, and one in flight is waited for and released with the rest (inventory's
/// <c>ReleaseHoldsRequest.refuse_plans_through</c>). 0 for a release the reservation may plan again after.
/// </param>
public sealed record ReleaseReservationHolds(Guid ReservationId, string Reason, DateTimeOffset? RevokeCommitsFrom = null, int RefusePlansThrough = 0);

/// <summary>The allocation activity found no offer for any line of a plan, so nothing was asked of inventory.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="PlanVersion">Version of the allocation plan that came up empty.</param>
/// <param name="Reasons">Why, per line (no stock, all above the price ceiling, below the minimum order).</param>
/// <param name="PassedOver">
/// Stock was there but this reservation could not take it (above its price ceiling, below a minimum order, or the
/// buyer's per-SKU cap reached), as opposed to no stock at all. Waking it again for the same stock would take nothing,
/// so it does not count against the units a stock announcement wakes reservations for.
/// </param>
public sealed record NoStockOffered(Guid ReservationId, int PlanVersion, IReadOnlyList<string> Reasons, bool PassedOver = false);

/// <summary>
/// The allocation activity got to a plan only after the holds it was to place would already have lapsed (inventory
/// refuses holds that expire in the past): a dependency was down for longer than the hold window. Nothing was asked of
/// inventory, and no later try of the same plan could succeed.
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="PlanVersion">Version of the allocation plan that came too late.</param>
/// <param name="HoldsExpireAt">When the plan's holds were to lapse.</param>
public sealed record AllocationWindowClosed(Guid ReservationId, int PlanVersion, DateTimeOffset HoldsExpireAt);

/// <summary>Timer message: the reservation's cutoff has arrived (scheduled durably by the saga).</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="Cutoff">The cutoff the timer was set for; a timer for an older cutoff is ignored.</param>
public sealed record CutoffReached(Guid ReservationId, DateTimeOffset Cutoff);

/// <summary>
/// Timer message: compliance has not screened the reservation in time (it was unreachable throughout).
/// Scheduled durably by the saga when the reservation is accepted, so every reservation ends.
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
public sealed record ScreeningDeadlineReached(Guid ReservationId);

/// <summary>
/// Timer message: a reservation no cutoff bounds (nothing restricts the sale) was not filled and confirmed within
/// <c>Ordering:FillDeadlineWithoutCutoff</c> of its approval. Scheduled durably by the saga so that such a
/// reservation, which has no cutoff to end it, still ends.
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
public sealed record FillDeadlineReached(Guid ReservationId);

/// <summary>
/// Timer message: the holds of a reservation waiting for stock are half way through their window, time to renew them
/// (scheduled durably by the saga, only while the cutoff lies beyond the window).
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="HoldsExpireAt">The window the timer was set for; a timer for a window since renewed or replaced is ignored.</param>
public sealed record HoldRenewalDue(Guid ReservationId, DateTimeOffset HoldsExpireAt);

/// <summary>Stock appeared for a SKU that a reservation waiting in AwaitingStock still needs: plan again for what is missing.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="Sku">The SKU that became available.</param>
public sealed record TopUpReservation(Guid ReservationId, string Sku);

/// <summary>
/// Compliance's rules changed (a cutoff moved, a party was listed) in a way that may concern this
/// in-flight reservation: screen it again. The saga applies the new answer wherever it stands.
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="Cause">What changed, for the history.</param>
/// <param name="NewCutoff">When a rule set moved the cutoff of a SKU the reservation holds to its destination, the cutoff now
/// in force for them (<c>CutoffChanged.NewCutoff</c>): the saga takes the earlier of it and its own at once, before compliance
/// answers the re-screen. Null for a change that moves no cutoff (a party listed).</param>
public sealed record RescreenReservation(Guid ReservationId, string Cause, DateTimeOffset? NewCutoff = null);
