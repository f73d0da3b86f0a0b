namespace Brokering.Client;

/// <summary>The statuses of a distributor's hold, as the distributor API names them.</summary>
public static class DistributorHoldStatus
{
    /// <summary>Units held for a buyer's reservation, waiting for its confirmation.</summary>
    public const string Held = "held";

    /// <summary>Made firm by the buyer's confirmation: part of an order.</summary>
    public const string Committed = "committed";

    /// <summary>Released back to available stock (cancelled, rejected, or a commit revoked).</summary>
    public const string Released = "released";

    /// <summary>Lapsed unconfirmed and back in available stock.</summary>
    public const string Expired = "expired";

    /// <summary>The distributor's stock fell below what was held; the units were given back and the reservation looks elsewhere.</summary>
    public const string Shortfall = "shortfall";
}

/// <summary>Which of the distributor's holds or orders to list; every filter given must hold.</summary>
/// <param name="Statuses">Holds only: only these statuses (see <see cref="DistributorHoldStatus"/>).</param>
/// <param name="Sku">Only holds of this SKU, or orders with a line of it (any spelling the catalogue accepts).</param>
/// <param name="Since">Only holds placed, or orders committed, at or after this instant.</param>
public sealed record DistributorListFilter(IReadOnlyList<string>? Statuses = null, string? Sku = null, DateTimeOffset? Since = null);

/// <summary>A hold on the distributor's stock.</summary>
/// <param name="HoldId">The hold (also in the order that commits it).</param>
/// <param name="ReservationId">The buyer's reservation the units are held for.</param>
/// <param name="BuyerOrganisation">The buyer organisation; null for holds placed before ordering named it.</param>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Warehouse">Warehouse code.</param>
/// <param name="Units">Units held.</param>
/// <param name="UnitPrice">Unit price when held.</param>
/// <param name="Currency">ISO 4217 currency.</param>
/// <param name="Status">See <see cref="DistributorHoldStatus"/>.</param>
/// <param name="HeldAt">When the hold was placed.</param>
/// <param name="ExpiresAt">When it lapses (or lapsed) unless committed.</param>
/// <param name="ClosedAt">When it was committed, released, expired or fell short; null while held.</param>
public sealed record DistributorHold(
    Guid HoldId, Guid ReservationId, string? BuyerOrganisation, string Sku, string Warehouse, long Units, decimal UnitPrice, string Currency,
    string Status, DateTimeOffset HeldAt, DateTimeOffset ExpiresAt, DateTimeOffset? ClosedAt);

/// <summary>An order: the holds of one reservation at the distributor that the buyer's confirmation made firm.</summary>
/// <param name="ReservationId">The buyer's reservation.</param>
/// <param name="BuyerOrganisation">The buyer organisation; null for holds placed before ordering named it.</param>
/// <param name="CommittedAt">When the holds were committed.</param>
/// <param name="Units">Units in all.</param>
/// <param name="Lines">What to ship from where, at what price.</param>
public sealed record DistributorOrder(Guid ReservationId, string? BuyerOrganisation, DateTimeOffset CommittedAt, long Units, IReadOnlyList<DistributorOrderLine> Lines);

/// <summary>One line of an order: one committed hold.</summary>
/// <param name="HoldId">The hold.</param>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Warehouse">Warehouse to ship from.</param>
/// <param name="Units">Units.</param>
/// <param name="UnitPrice">Unit price.</param>
/// <param name="Currency">ISO 4217 currency.</param>
public sealed record DistributorOrderLine(Guid HoldId, string Sku, string Warehouse, long Units, decimal UnitPrice, string Currency);

/// <summary>A page of the distributor's holds, oldest first.</summary>
/// <param name="Holds">The page.</param>
/// <param name="Next">The cursor of the page after it; null on the last page.</param>
public sealed record DistributorHoldPage(IReadOnlyList<DistributorHold> Holds, string? Next);

/// <summary>A page of the distributor's orders, oldest first.</summary>
/// <param name="Orders">The page.</param>
/// <param name="Next">The cursor of the page after it; null on the last page.</param>
public sealed record DistributorOrderPage(IReadOnlyList<DistributorOrder> Orders, string? Next);
