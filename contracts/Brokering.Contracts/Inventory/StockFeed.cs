using System.Text.Json.Serialization;

namespace Brokering.Contracts.Inventory;

/// <summary>Whether a stock update is the whole truth or a change.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<StockUpdateKind>))]
public enum StockUpdateKind
{
    /// <summary>The distributor's full stock: anything not listed is zero.</summary>
    Snapshot,

    /// <summary>Changes to the listed items only.</summary>
    Delta,
}

/// <summary>
/// One stock update of one distributor, as posted to <c>POST /v1/distributors/{id}/stock-feed</c> or
/// sent as raw JSON to the AMQP queue <c>stock-feed</c> (the gRPC <c>StockFeeds/Publish</c> stream carries the same).
/// Members are nullable because they arrive from outside and are validated, not trusted.
/// </summary>
/// <param name="DistributorId">The distributor publishing.</param>
/// <param name="Sequence">Monotonic per distributor, 1 to <see cref="InputBounds.MaxSequence"/>; an update not newer than the last applied is a duplicate.</param>
/// <param name="Kind">Snapshot or delta.</param>
/// <param name="Items">The items.</param>
public sealed record StockFeedUpdate(string? DistributorId, long Sequence, StockUpdateKind? Kind, IReadOnlyList<StockFeedItem?>? Items);

/// <summary>Stock of one SKU in one warehouse, within a <see cref="StockFeedUpdate"/>.</summary>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Warehouse">Warehouse code of the distributor.</param>
/// <param name="QuantityOnHand">Snapshot: units on hand, 0 to <see cref="InputBounds.MaxQuantity"/>.</param>
/// <param name="QuantityChange">Delta: change in units (may be negative, never taking on hand below zero).</param>
/// <param name="UnitPrice">Price of one unit, 0 to <see cref="InputBounds.MaxUnitPrice"/> (required in a snapshot and for a level the delta creates).</param>
/// <param name="Currency">ISO 4217 currency of <paramref name="UnitPrice"/>.</param>
/// <param name="LeadTimeDays">Days from commit to shipment (default 0).</param>
/// <param name="MinimumOrderQuantity">Smallest quantity per hold (default 1).</param>
public sealed record StockFeedItem(
    string? Sku,
    string? Warehouse,
    long? QuantityOnHand = null,
    long? QuantityChange = null,
    decimal? UnitPrice = null,
    string? Currency = null,
    int? LeadTimeDays = null,
    long? MinimumOrderQuantity = null);
