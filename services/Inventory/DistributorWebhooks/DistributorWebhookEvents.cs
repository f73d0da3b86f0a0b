using Brokering.Contracts.Inventory;

namespace Brokering.Inventory.DistributorWebhooks;

/// <summary>The event types a distributor's subscription can ask for; each is about the distributor's own stock only.</summary>
public static class DistributorWebhookEventTypes
{
    /// <summary>Units of the distributor's stock were held for a buyer's reservation (one event per reservation's plan).</summary>
    public const string HoldsPlaced = "holds.placed";

    /// <summary>Held units were made firm by the buyer's confirmation.</summary>
    public const string HoldsCommitted = "holds.committed";

    /// <summary>Held (or committed, for a revoked commit) units were released back to the distributor's available stock.</summary>
    public const string HoldsReleased = "holds.released";

    /// <summary>Held units lapsed unconfirmed and went back to the distributor's available stock.</summary>
    public const string HoldsExpired = "holds.expired";

    /// <summary>An order notice: a commit made firm the reservation's holds at the distributor (what to ship, from where, at what price).</summary>
    public const string OrderPlaced = "order.placed";

    /// <summary>An order announced by <c>order.placed</c> no longer stands; its holds were released.</summary>
    public const string OrderRevoked = "order.revoked";

    public static readonly IReadOnlyList<string> All = [HoldsPlaced, HoldsCommitted, HoldsReleased, HoldsExpired, OrderPlaced, OrderRevoked];
}

/// <summary>The body of every distributor delivery (Standard Webhooks' type / timestamp / data shape).</summary>
/// <param name="Type">One of <see cref="DistributorWebhookEventTypes"/>.</param>
/// <param name="Timestamp">When the event happened.</param>
/// <param name="Data">For <c>holds.*</c> a <see cref="HoldsEventData"/>; for <c>order.placed</c> a <see cref="DistributorOrderPlaced"/>; for <c>order.revoked</c> a <see cref="DistributorOrderRevoked"/>.</param>
public sealed record DistributorWebhookEvent(string Type, DateTimeOffset Timestamp, object Data);

/// <summary>What a <c>holds.*</c> event says: the distributor's own holds of one reservation that the event moved.</summary>
/// <param name="ReservationId">The buyer's reservation.</param>
/// <param name="BuyerOrganisation">The buyer organisation; null for holds placed before ordering named it.</param>
/// <param name="At">When they were placed, committed, released or expired.</param>
/// <param name="Units">Units of the listed holds in all.</param>
/// <param name="Holds">The distributor's holds concerned (never another distributor's).</param>
/// <param name="ExpiresAt">For <c>holds.placed</c>: when they lapse unless committed.</param>
/// <param name="Reason">For <c>holds.released</c>: why.</param>
public sealed record HoldsEventData(
    Guid ReservationId, string? BuyerOrganisation, DateTimeOffset At, long Units, IReadOnlyList<HeldUnits> Holds, DateTimeOffset? ExpiresAt, string? Reason);

/// <summary>One hold of a <c>holds.*</c> event.</summary>
/// <param name="HoldId">The hold (as in the holds list and the order's lines).</param>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Warehouse">Warehouse code.</param>
/// <param name="Units">Units held.</param>
/// <param name="UnitPrice">Unit price when held.</param>
/// <param name="Currency">ISO 4217 currency.</param>
public sealed record HeldUnits(Guid HoldId, string Sku, string Warehouse, long Units, decimal UnitPrice, string Currency);
