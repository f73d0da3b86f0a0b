namespace Brokering.Inventory.StockFeeds;

/// <summary>What happened to one stock update.</summary>
public enum StockUpdateOutcome
{
    /// <summary>Applied (possibly with some items rejected).</summary>
    Applied,

    /// <summary>Sequence applied before (at or below the last applied, and not a missing one): nothing changed.</summary>
    Duplicate,

    /// <summary>Nothing applied: the whole update was invalid.</summary>
    Rejected,

    /// <summary>
    /// Below the last applied snapshot, which already is the distributor's whole stock as of its sequence: not applied,
    /// nothing changed, nothing to resend.
    /// </summary>
    Superseded,
}

/// <summary>Why a whole update was rejected.</summary>
public enum StockUpdateRejection
{
    /// <summary>Not rejected.</summary>
    None,

    /// <summary>The update itself is malformed (no distributor, no kind, bad sequence), or every item was invalid.</summary>
    Invalid,

    /// <summary>The distributor is not registered.</summary>
    UnknownDistributor,
}

/// <summary>Why one item was not applied.</summary>
/// <param name="Index">Zero-based index of the item in its update.</param>
/// <param name="Sku">The item's SKU as sent.</param>
/// <param name="Field">Path of the offending field, e.g. <c>items[3].quantityOnHand</c>.</param>
/// <param name="Error">Why.</param>
public sealed record StockItemError(int Index, string? Sku, string Field, string Error);

/// <summary>The result of one stock update, the same whichever way it came in.</summary>
public sealed record StockUpdateResult(
    string? DistributorId,
    long Sequence,
    StockUpdateOutcome Outcome,
    int ItemsApplied,
    bool GapDetected,
    bool GapHealed,
    long PreviousSequence,
    IReadOnlyList<StockItemError> ItemErrors,
    string? Error,
    StockUpdateRejection Rejection)
{
    public static StockUpdateResult Rejected(string? distributorId, long sequence, StockUpdateRejection rejection, string error, IReadOnlyList<StockItemError>? itemErrors = null, long previousSequence = 0) =>
        new(distributorId, sequence, StockUpdateOutcome.Rejected, 0, false, false, previousSequence, itemErrors ?? [], error, rejection);
}
