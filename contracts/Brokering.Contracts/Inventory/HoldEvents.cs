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
/// once per plan version, from inventory's outbox, in the transaction that placed them).
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="PlanVersion">Version of the allocation plan.</param>
/// <param name="Holds">Per requested hold, what was held.</param>
/// <param name="ExpiresAt">When the holds lapse unless committed.</param>
public sealed record HoldsPlaced(Guid ReservationId, int PlanVersion, IReadOnlyList<PlacedHold> Holds, DateTimeOffset ExpiresAt);

/// <summary>Inventory committed every active hold of a reservation.</summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="HoldIds">Holds committed.</param>
/// <param name="Units">Units committed in all.</param>
/// <param name="CommittedAt">When.</param>
public sealed record HoldsCommitted(Guid ReservationId, IReadOnlyList<Guid> HoldIds, long Units, DateTimeOffset CommittedAt);

/// <summary>Inventory released holds of a reservation.</summary>
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
