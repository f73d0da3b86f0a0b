namespace Brokering.Contracts.Ordering;

/// <summary>How much of a reservation must be filled.</summary>
public enum FillPolicy
{
    /// <summary>
    /// Every line in full, or nothing: refused when the stock on offer cannot fill a line. Stock that other reservations
    /// take between the offers and the placement (a distributor running out in a scramble) is planned around, on the
    /// offers that remain, before the reservation is judged.
    /// </summary>
    AllOrNone,

    /// <summary>Hold what exists if at least the minimum fill ratio; top up until the cutoff.</summary>
    AllowPartial,
}

/// <summary>Who confirms a held reservation.</summary>
public enum Confirmation
{
    /// <summary>The buyer confirms.</summary>
    Manual,

    /// <summary>Confirmed as soon as the fill policy is satisfied.</summary>
    Auto,
}

/// <summary>The end user of the goods.</summary>
/// <param name="Name">Legal name.</param>
/// <param name="Country">ISO 3166-1 alpha-2 country.</param>
public sealed record EndUser(string Name, string Country);

/// <summary>One SKU of a reservation.</summary>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Quantity">Units wanted.</param>
/// <param name="MaxUnitPrice">Highest acceptable unit price.</param>
/// <param name="Currency">ISO 4217 currency of <paramref name="MaxUnitPrice"/>.</param>
public sealed record ReservationLine(string Sku, long Quantity, decimal MaxUnitPrice, string Currency);

/// <summary>
/// A buyer's reservation was accepted and stored. Published from ordering's bus outbox in the
/// same transaction that stored the reservation; it starts the reservation saga.
/// </summary>
public sealed record ReservationSubmitted
{
    /// <summary>Reservation id (the saga's correlation id).</summary>
    public required Guid ReservationId { get; init; }

    /// <summary>The buyer's tenant id.</summary>
    public required string BuyerId { get; init; }

    /// <summary>The buyer's own reference.</summary>
    public required string BuyerReference { get; init; }

    /// <summary>Who will use the goods.</summary>
    public required EndUser EndUser { get; init; }

    /// <summary>ISO 3166-1 alpha-2 destination country.</summary>
    public required string DestinationCountry { get; init; }

    /// <summary>All or none, or partial.</summary>
    public required FillPolicy FillPolicy { get; init; }

    /// <summary>For <see cref="FillPolicy.AllowPartial"/>: smallest acceptable share of units, in (0, 1].</summary>
    public decimal MinFillRatio { get; init; } = 1m;

    /// <summary>Manual or automatic confirmation.</summary>
    public required Confirmation Confirmation { get; init; }

    /// <summary>What to reserve; one line per SKU.</summary>
    public required IReadOnlyList<ReservationLine> Lines { get; init; }

    /// <summary>When the reservation was accepted.</summary>
    public required DateTimeOffset SubmittedAt { get; init; }
}

/// <summary>The buyer asked to confirm a held reservation.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="RequestedAt">When the buyer asked.</param>
public sealed record ReservationConfirmationRequested(Guid ReservationId, DateTimeOffset RequestedAt);

/// <summary>The buyer (or an operator) asked to cancel a reservation that has not ended.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="Reason">Why; kept in the saga history.</param>
/// <param name="RequestedBy">Who asked (buyer id or operator).</param>
/// <param name="RequestedAt">When.</param>
public sealed record ReservationCancellationRequested(Guid ReservationId, string Reason, string RequestedBy, DateTimeOffset RequestedAt);

/// <summary>A reservation moved from one saga state to another.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="BuyerId">The buyer's tenant id.</param>
/// <param name="From">State before.</param>
/// <param name="To">State after.</param>
/// <param name="Reason">Why, when there is more to say than the event name.</param>
/// <param name="At">When.</param>
public sealed record ReservationStatusChanged(Guid ReservationId, string BuyerId, string From, string To, string? Reason, DateTimeOffset At);
