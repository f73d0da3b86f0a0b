namespace Brokering.Contracts.Inventory;

/// <summary>A hold as placed.</summary>
/// <param name="HoldId">Hold id.</param>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="DistributorId">Distributor.</param>
/// <param name="Warehouse">Warehouse code.</param>
/// <param name="Requested">Units asked for.</param>
/// <param name="Held">Units held (may be fewer, even zero).</param>
/// <param name="UnitPrice">Unit price when held.</param>
/// <param name="Currency">ISO 4217 currency.</param>
public sealed record PlacedHold(Guid HoldId, string Sku, string DistributorId, string Warehouse, long Requested, long Held, decimal UnitPrice, string Currency);

/// <summary>
/// Inventory placed holds for one version of a reservation's allocation plan (published
/// once per plan version, from inventory's outbox, in the transaction that placed them). Like
/// <see cref="HoldsCommitted"/> and <see cref="HoldsReleased"/>, published only while some distributor has a
/// webhook subscription (their one consumer turns them into webhook deliveries): every change committed after a
/// subscription was created is announced (docs/inventory.md, "Hold events only while someone subscribes").
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="PlanVersion">Version of the allocation plan.</param>
/// <param name="Holds">Per requested hold, what was held.</param>
/// <param name="ExpiresAt">When the holds lapse unless committed.</param>
public sealed record HoldsPlaced(Guid ReservationId, int PlanVersion, IReadOnlyList<PlacedHold> Holds, DateTimeOffset ExpiresAt);

/// <summary>Inventory committed holds of a reservation (published once per commit that made a hold firm, while some
/// distributor has a webhook subscription, as <see cref="HoldsPlaced"/>).</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="HoldIds">Every hold the commit named that is now committed: those it made firm and those an earlier
/// commit of the reservation already had, as the CommitHolds answer lists them.</param>
/// <param name="Units">Units of those holds in all.</param>
/// <param name="CommittedAt">When.</param>
public sealed record HoldsCommitted(Guid ReservationId, IReadOnlyList<Guid> HoldIds, long Units, DateTimeOffset CommittedAt);

/// <summary>Inventory released holds of a reservation (while some distributor has a webhook subscription, as <see cref="HoldsPlaced"/>).</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="HoldIds">Holds released.</param>
/// <param name="Reason">Why.</param>
public sealed record HoldsReleased(Guid ReservationId, IReadOnlyList<Guid> HoldIds, string Reason);

/// <summary>Holds of a reservation lapsed unconfirmed and were released by inventory.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="HoldIds">Holds expired.</param>
/// <param name="ExpiredAt">When.</param>
public sealed record HoldsExpired(Guid ReservationId, IReadOnlyList<Guid> HoldIds, DateTimeOffset ExpiredAt);

/// <summary>
/// A distributor's feed dropped below what is held: these holds were flagged as shortfall
/// and their reservations must re-allocate the units.
/// </summary>
/// <param name="ReservationId">Reservation whose holds fell short.</param>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="DistributorId">Distributor.</param>
/// <param name="HoldIds">Holds flagged.</param>
/// <param name="UnitsShort">Units no longer covered.</param>
public sealed record StockShortfallDetected(Guid ReservationId, string Sku, string DistributorId, IReadOnlyList<Guid> HoldIds, long UnitsShort);

/// <summary>Units of a SKU became available to hold (coalesced: one per SKU per feed update).</summary>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Available">Units available in all, across distributors.</param>
/// <param name="At">When.</param>
public sealed record StockAvailable(string Sku, long Available, DateTimeOffset At);

/// <summary>One line of a distributor's order: a committed hold.</summary>
/// <param name="HoldId">The committed hold.</param>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Warehouse">Warehouse to ship from.</param>
/// <param name="Units">Units ordered.</param>
/// <param name="UnitPrice">Agreed unit price (the distributor's price when the units were held).</param>
/// <param name="Currency">ISO 4217 currency.</param>
public sealed record DistributorOrderLine(Guid HoldId, string Sku, string Warehouse, long Units, decimal UnitPrice, string Currency);

/// <summary>
/// Order notice to one distributor: a commit made firm the holds of a reservation at its warehouses. Published from
/// inventory's outbox in the transaction of the commit, one per distributor the commit involves, never for a repeat of
/// a commit; the same order is listed by <c>GET /v1/distributor/orders</c>. At least once: de-duplicate on
/// (<paramref name="ReservationId"/>, <paramref name="CommittedAt"/>) or on the hold ids.
/// </summary>
/// <param name="DistributorId">The distributor the order is for (the routing key towards its own queue).</param>
/// <param name="ReservationId">The buyer's reservation.</param>
/// <param name="BuyerOrganisation">The buyer organisation; null for holds placed before ordering named it.</param>
/// <param name="CommittedAt">When the holds were committed.</param>
/// <param name="Units">Units in all.</param>
/// <param name="Lines">What to ship from where, at what price, by SKU, warehouse and hold id.</param>
public sealed record DistributorOrderPlaced(
    string DistributorId, Guid ReservationId, string? BuyerOrganisation, DateTimeOffset CommittedAt, long Units, IReadOnlyList<DistributorOrderLine> Lines);

/// <summary>
/// An order announced by <see cref="DistributorOrderPlaced"/> no longer stands: its commit landed at or after a cutoff
/// that was moved earlier while the commit was in flight, so its holds were released and the units returned to the
/// distributor's available stock. One per distributor and commit; the order leaves <c>GET /v1/distributor/orders</c>.
/// </summary>
/// <param name="DistributorId">The distributor the order was for.</param>
/// <param name="ReservationId">The buyer's reservation.</param>
/// <param name="CommittedAt">The <see cref="DistributorOrderPlaced.CommittedAt"/> of the order revoked.</param>
/// <param name="HoldIds">Its holds, now released.</param>
/// <param name="Units">Units no longer ordered.</param>
/// <param name="Reason">Why.</param>
public sealed record DistributorOrderRevoked(
    string DistributorId, Guid ReservationId, DateTimeOffset CommittedAt, IReadOnlyList<Guid> HoldIds, long Units, string Reason);
