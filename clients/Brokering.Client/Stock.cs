namespace Brokering.Client;

/// <summary>Whether a stock update is the whole truth or a change.</summary>
public enum StockUpdateKind
{
    /// <summary>The distributor's full stock: anything not listed is zero.</summary>
    Snapshot,

    /// <summary>Changes to the listed items only.</summary>
    Delta,
}

/// <summary>One stock update of a distributor (<c>POST /v1/distributors/{id}/stock-feed</c>).</summary>
/// <param name="Sequence">Increases with every update, 1 and up; an update not newer than the last applied is a duplicate, which makes resending safe.</param>
/// <param name="Kind">Snapshot or delta.</param>
/// <param name="Items">The stock levels.</param>
public sealed record StockUpdate(long Sequence, StockUpdateKind Kind, IReadOnlyList<StockLevel> Items);

/// <summary>Stock of one SKU in one warehouse.</summary>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Warehouse">The distributor's warehouse code.</param>
/// <param name="QuantityOnHand">Snapshot: units on hand.</param>
/// <param name="QuantityChange">Delta: the change in units (may be negative).</param>
/// <param name="UnitPrice">Price of one unit (required in a snapshot, and for a level a delta creates).</param>
/// <param name="Currency">ISO 4217 currency of <paramref name="UnitPrice"/>.</param>
/// <param name="LeadTimeDays">Days from commit to shipment.</param>
/// <param name="MinimumOrderQuantity">Smallest quantity per hold.</param>
public sealed record StockLevel(
    string Sku,
    string Warehouse,
    long? QuantityOnHand = null,
    long? QuantityChange = null,
    decimal? UnitPrice = null,
    string? Currency = null,
    int? LeadTimeDays = null,
    long? MinimumOrderQuantity = null);

/// <summary>What became of a stock update.</summary>
public enum StockUpdateOutcome
{
    /// <summary>Applied (some items may have been refused: see <see cref="StockUpdateResult.ItemErrors"/>).</summary>
    Applied,

    /// <summary>Its sequence was not newer than the last applied, nor one still missing: nothing changed.</summary>
    Duplicate,

    /// <summary>Older than the last snapshot applied, which already stands for it: nothing changed.</summary>
    Superseded,

    /// <summary>Nothing applied.</summary>
    Rejected,
}

/// <summary>One refused item of a stock update.</summary>
/// <param name="Index">Its position in <see cref="StockUpdate.Items"/>.</param>
/// <param name="Sku">Its SKU, as sent.</param>
/// <param name="Field">The field at fault.</param>
/// <param name="Error">What is wrong.</param>
public sealed record StockItemError(int Index, string? Sku, string Field, string Error);

/// <summary>The answer to a stock update.</summary>
/// <param name="DistributorId">The distributor.</param>
/// <param name="Sequence">The update's sequence.</param>
/// <param name="Outcome">Applied, duplicate or superseded.</param>
/// <param name="ItemsApplied">Items applied.</param>
/// <param name="GapDetected">Sequences were missed since the last update applied.</param>
/// <param name="GapHealed">A gap noted earlier was closed by this update.</param>
/// <param name="PreviousSequence">The last sequence applied before this one.</param>
/// <param name="ItemErrors">Items refused (the rest were applied).</param>
/// <param name="Missing">
/// The sequences the feed still misses once this update is dealt with (applied or not): resend them, or a snapshot
/// newer than the last applied; until then the distributor's stock is not offered. Empty when nothing is missing.
/// </param>
/// <param name="Error">Why the whole update was rejected (<see cref="StockUpdateOutcome.Rejected"/>, over gRPC; REST refuses it with a 400 instead).</param>
public sealed record StockUpdateResult(
    string? DistributorId,
    long Sequence,
    StockUpdateOutcome Outcome,
    int ItemsApplied,
    bool GapDetected,
    bool GapHealed,
    long PreviousSequence,
    IReadOnlyList<StockItemError> ItemErrors,
    IReadOnlyList<MissingSequences>? Missing = null,
    string? Error = null);

/// <summary>Sequences of the feed that never arrived, <paramref name="From"/> to <paramref name="To"/> inclusive.</summary>
public sealed record MissingSequences(long From, long To);
