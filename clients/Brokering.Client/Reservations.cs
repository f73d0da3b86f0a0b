namespace Brokering.Client;

/// <summary>Whether a reservation may be filled in part.</summary>
public enum FillPolicyKind
{
    /// <summary>Every line in full, or nothing.</summary>
    AllOrNone,

    /// <summary>Part of the quantity is acceptable, down to <see cref="FillPolicy.MinFillRatio"/>.</summary>
    AllowPartial,
}

/// <summary>Who confirms a reservation once it is held.</summary>
public enum ConfirmationMode
{
    /// <summary>The buyer confirms (<see cref="BuyerClient.ConfirmAsync"/>) before the holds expire.</summary>
    Manual,

    /// <summary>Confirmed as soon as it is held.</summary>
    Auto,
}

/// <summary>How much of a reservation must be filled.</summary>
/// <param name="Kind">All or none, or partial.</param>
/// <param name="MinFillRatio">For <see cref="FillPolicyKind.AllowPartial"/>: the smallest share that may be confirmed, above 0 and at most 1.</param>
public sealed record FillPolicy(FillPolicyKind Kind, decimal? MinFillRatio = null)
{
    /// <summary>Every line in full, or nothing.</summary>
    public static FillPolicy AllOrNone { get; } = new(FillPolicyKind.AllOrNone);

    /// <summary>Part of the quantity, down to <paramref name="minFillRatio"/>.</summary>
    /// <param name="minFillRatio">Above 0 and at most 1.</param>
    /// <returns>The policy.</returns>
    public static FillPolicy AllowPartial(decimal minFillRatio) => new(FillPolicyKind.AllowPartial, minFillRatio);
}

/// <summary>The organisation that will use the goods, screened against the restricted-party lists.</summary>
/// <param name="Name">Its legal name.</param>
/// <param name="Country">ISO 3166-1 alpha-2 code of its country.</param>
public sealed record EndUser(string Name, string Country);

/// <summary>One line of a new reservation.</summary>
/// <param name="Sku">A catalogue SKU (any spelling the catalogue accepts).</param>
/// <param name="Quantity">Units wanted, at least 1.</param>
/// <param name="MaxUnitPrice">The most the buyer pays for one unit.</param>
/// <param name="Currency">ISO 4217 currency of <paramref name="MaxUnitPrice"/>.</param>
public sealed record NewReservationLine(string Sku, long Quantity, decimal MaxUnitPrice, string Currency);

/// <summary>The body of a submission (<c>POST /v1/reservations</c>).</summary>
/// <param name="BuyerReference">The buyer's own reference, e.g. its purchase-order number; at most 200 characters.</param>
/// <param name="EndUser">Who will use the goods.</param>
/// <param name="DestinationCountry">ISO 3166-1 alpha-2 code of the country the goods ship to.</param>
/// <param name="FillPolicy">How much must be filled.</param>
/// <param name="Confirmation">Who confirms once held.</param>
/// <param name="Lines">At least one line, each SKU once.</param>
public sealed record NewReservation(
    string BuyerReference,
    EndUser EndUser,
    string DestinationCountry,
    FillPolicy FillPolicy,
    ConfirmationMode Confirmation,
    IReadOnlyList<NewReservationLine> Lines);

/// <summary>A submission the service accepted (or had accepted before, under the same key).</summary>
/// <param name="Id">The reservation's id.</param>
/// <param name="Status">Its status when accepted (see <see cref="ReservationStatus"/>).</param>
/// <param name="IdempotencyKey">The key it was sent with: send it again with the same body to get the same reservation.</param>
public sealed record SubmittedReservation(Guid Id, string Status, string IdempotencyKey);

/// <summary>The answer to a confirmation or cancellation: the reservation and the status it is moving to.</summary>
/// <param name="Id">The reservation's id.</param>
/// <param name="Status">The status it is moving to (<c>Confirming</c>, <c>Cancelling</c>).</param>
public sealed record ReservationAccepted(Guid Id, string Status);

/// <summary>The statuses of a reservation, as the service names them.</summary>
public static class ReservationStatus
{
    /// <summary>Accepted, not yet picked up.</summary>
    public const string Submitted = "Submitted";

    /// <summary>Being screened against export rules and restricted parties.</summary>
    public const string Screening = "Screening";

    /// <summary>A party resembles a restricted party: waiting for a compliance officer's review (rejected if none comes in time).</summary>
    public const string UnderReview = "UnderReview";

    /// <summary>Looking for stock.</summary>
    public const string Allocating = "Allocating";

    /// <summary>Stock is held at distributors, waiting for confirmation.</summary>
    public const string Held = "Held";

    /// <summary>Not enough stock yet; waiting for more.</summary>
    public const string AwaitingStock = "AwaitingStock";

    /// <summary>Confirmed by the buyer, holds being committed.</summary>
    public const string Confirming = "Confirming";

    /// <summary>Holds committed: sold. Final.</summary>
    public const string Confirmed = "Confirmed";

    /// <summary>Refused by screening. Final.</summary>
    public const string Rejected = "Rejected";

    /// <summary>Cancelled by the buyer. Final.</summary>
    public const string Cancelled = "Cancelled";

    /// <summary>Holds expired before confirmation. Final.</summary>
    public const string Expired = "Expired";

    /// <summary>The export cutoff passed before it could be confirmed. Final.</summary>
    public const string CutoffMissed = "CutoffMissed";

    /// <summary>Whether <paramref name="status"/> is one a reservation never leaves.</summary>
    /// <param name="status">A status.</param>
    /// <returns>True for a final status.</returns>
    public static bool IsFinal(string status) => status is Confirmed or Rejected or Cancelled or Expired or CutoffMissed;
}

/// <summary>A reservation as its buyer sees it (<c>GET /v1/reservations/{id}</c>).</summary>
/// <param name="Id">Its id.</param>
/// <param name="Status">Where it stands (see <see cref="ReservationStatus"/>).</param>
/// <param name="StatusReason">Why it is there, when the status has a reason (a rejection, a shortfall).</param>
/// <param name="BuyerReference">The buyer's own reference.</param>
/// <param name="EndUser">Who will use the goods.</param>
/// <param name="DestinationCountry">Where the goods ship to.</param>
/// <param name="FillPolicy"><c>AllOrNone</c> or <c>AllowPartial</c>.</param>
/// <param name="MinFillRatio">The smallest share that may be confirmed.</param>
/// <param name="Confirmation"><c>Manual</c> or <c>Auto</c>.</param>
/// <param name="SubmittedAt">When it was submitted.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="Cutoff">The latest it may be confirmed, once screened.</param>
/// <param name="HoldsExpireAt">When its holds lapse unless confirmed.</param>
/// <param name="Lines">Its lines, each with what is held for it.</param>
/// <param name="History">Every status transition, oldest first.</param>
public sealed record Reservation(
    Guid Id,
    string Status,
    string? StatusReason,
    string BuyerReference,
    EndUser EndUser,
    string DestinationCountry,
    string FillPolicy,
    decimal MinFillRatio,
    string Confirmation,
    DateTimeOffset SubmittedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? Cutoff,
    DateTimeOffset? HoldsExpireAt,
    IReadOnlyList<ReservationLine> Lines,
    IReadOnlyList<StatusTransition> History)
{
    /// <summary>Whether the reservation has ended.</summary>
    public bool IsFinal => ReservationStatus.IsFinal(Status);
}

/// <summary>One line of a reservation and what is held for it.</summary>
/// <param name="Sku">The SKU, as the catalogue spells it.</param>
/// <param name="Quantity">Units wanted.</param>
/// <param name="MaxUnitPrice">The most the buyer pays for one unit.</param>
/// <param name="Currency">Currency of <paramref name="MaxUnitPrice"/>.</param>
/// <param name="Allocated">Units held or committed for it.</param>
/// <param name="Allocations">Where they are held.</param>
public sealed record ReservationLine(string Sku, long Quantity, decimal MaxUnitPrice, string Currency, long Allocated, IReadOnlyList<Allocation> Allocations);

/// <summary>Units held (or committed) at one distributor's warehouse.</summary>
/// <param name="DistributorId">The distributor.</param>
/// <param name="Warehouse">Its warehouse.</param>
/// <param name="Quantity">Units.</param>
/// <param name="UnitPrice">Price of one unit.</param>
/// <param name="Currency">Currency of <paramref name="UnitPrice"/>.</param>
public sealed record Allocation(string DistributorId, string Warehouse, long Quantity, decimal UnitPrice, string Currency);

/// <summary>One step of a reservation's history.</summary>
/// <param name="At">When.</param>
/// <param name="Event">What made it (e.g. <c>HoldsPlaced</c>).</param>
/// <param name="From">The status before.</param>
/// <param name="To">The status after.</param>
/// <param name="Detail">More about it, when there is more.</param>
public sealed record StatusTransition(DateTimeOffset At, string Event, string From, string To, string? Detail);

/// <summary>Which of the caller's reservations to list; every filter given must hold.</summary>
/// <param name="Statuses">Only these statuses.</param>
/// <param name="BuyerReference">Exactly this buyer reference (case-sensitive): the lookup by purchase-order number.</param>
/// <param name="Sku">A line for this SKU.</param>
/// <param name="SubmittedFrom">Submitted at or after.</param>
/// <param name="SubmittedTo">Submitted before.</param>
public sealed record ReservationFilter(
    IReadOnlyList<string>? Statuses = null,
    string? BuyerReference = null,
    string? Sku = null,
    DateTimeOffset? SubmittedFrom = null,
    DateTimeOffset? SubmittedTo = null);

/// <summary>One page of the caller's reservations, newest first.</summary>
/// <param name="Reservations">The page.</param>
/// <param name="Next">The cursor of the page after it; null on the last page.</param>
public sealed record ReservationPage(IReadOnlyList<Reservation> Reservations, string? Next);

/// <summary>One status change of one of the caller's reservations, from the change feed or a webhook.</summary>
/// <param name="Cursor">Where the feed resumes just after this change: keep it, and pass it to <see cref="BuyerClient.ChangesAsync"/> after a restart.</param>
/// <param name="ReservationId">The reservation.</param>
/// <param name="From">The status before.</param>
/// <param name="To">The status after.</param>
/// <param name="Event">What made it (e.g. <c>HoldsPlaced</c>).</param>
/// <param name="Reason">Why, when there is a reason.</param>
/// <param name="At">When.</param>
public sealed record ReservationChange(string Cursor, Guid ReservationId, string From, string To, string Event, string? Reason, DateTimeOffset At);

/// <summary>One read of the change feed.</summary>
/// <param name="Changes">The changes, oldest first.</param>
/// <param name="Next">Where to read on from (the cursor given, when there was nothing new).</param>
public sealed record ReservationChangePage(IReadOnlyList<ReservationChange> Changes, string Next);

/// <summary>What became of one reservation of a bulk submission (<see cref="BulkItemResult.Outcome"/>).</summary>
public static class BulkOutcome
{
    /// <summary>Accepted: a new reservation.</summary>
    public const string Accepted = "Accepted";

    /// <summary>Its key had been accepted before, with the same body: the same reservation.</summary>
    public const string Replayed = "Replayed";

    /// <summary>Refused for its input; <see cref="BulkItemResult.Errors"/> names each field by its path (<c>items[3].lines[0].quantity</c>).</summary>
    public const string Invalid = "Invalid";

    /// <summary>Its key had been used with another body.</summary>
    public const string KeyReused = "KeyReused";

    /// <summary>An earlier submission with its key is still being handled: send it again later.</summary>
    public const string KeyInFlight = "KeyInFlight";

    /// <summary>Over the caller's rate limit: send it again later.</summary>
    public const string RateLimited = "RateLimited";

    /// <summary>
    /// Ordering cannot check a line's SKU against the catalogue yet (<see cref="BulkItemResult.Errors"/> names the
    /// lines): nothing was stored and its key was not used, so send it again later with the same key.
    /// </summary>
    public const string Unavailable = "Unavailable";
}

/// <summary>One reservation's result in a bulk submission.</summary>
/// <param name="Index">Its position in the request.</param>
/// <param name="IdempotencyKey">Its key.</param>
/// <param name="Outcome">See <see cref="BulkOutcome"/>.</param>
/// <param name="Status">The HTTP status a single submission of it would have been answered with.</param>
/// <param name="Id">The reservation, when accepted or replayed.</param>
/// <param name="ReservationStatus">Its status when accepted.</param>
/// <param name="Location">Where to follow it.</param>
/// <param name="Errors">Why it was refused, each field by its path in the request.</param>
/// <param name="Detail">Why it was refused, when not for a field.</param>
/// <param name="Rows">For a CSV upload, the rows it was read from (1-based; the header is row 1).</param>
public sealed record BulkItemResult(
    int Index,
    string? IdempotencyKey,
    string Outcome,
    int Status,
    Guid? Id,
    string? ReservationStatus,
    string? Location,
    IReadOnlyDictionary<string, string[]>? Errors,
    string? Detail,
    IReadOnlyList<int>? Rows = null)
{
    /// <summary>Whether the reservation stands (accepted now or before).</summary>
    public bool IsAccepted => Outcome is BulkOutcome.Accepted or BulkOutcome.Replayed;
}

/// <summary>The answer to a bulk submission.</summary>
/// <param name="Accepted">Reservations accepted now.</param>
/// <param name="Replayed">Reservations accepted before, under the same keys.</param>
/// <param name="Refused">Reservations refused (each with its reason).</param>
/// <param name="Results">One per reservation, in request order.</param>
public sealed record BulkSubmission(int Accepted, int Replayed, int Refused, IReadOnlyList<BulkItemResult> Results);
