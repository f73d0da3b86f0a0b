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

/// <summary>Sequences of a distributor's feed that never arrived, <paramref name="From"/> to <paramref name="To"/> inclusive.</summary>
public sealed record SequenceRange(long From, long To);

/// <summary>The result of one stock update, the same whichever way it came in.</summary>
/// <param name="DistributorId">The update's distributor.</param>
/// <param name="Sequence">The update's sequence.</param>
/// <param name="Outcome">Applied, duplicate, superseded or rejected.</param>
/// <param name="ItemsApplied">Items applied.</param>
/// <param name="GapDetected">This update skipped sequences after the last applied one.</param>
/// <param name="GapHealed">This update closed the last open gap.</param>
/// <param name="PreviousSequence">The last sequence applied before this update.</param>
/// <param name="ItemErrors">Items not applied, with the reason.</param>
/// <param name="Error">Why the whole update was rejected, when it was.</param>
/// <param name="Rejection">What kind of rejection, when it was.</param>
/// <param name="Missing">
/// The feed's open gaps once this update is dealt with (applied or not): the sequences to resend (or a snapshot newer
/// than the last applied), without which the distributor's stock is not offered. Empty when nothing is missing.
/// </param>
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
    StockUpdateRejection Rejection,
    IReadOnlyList<SequenceRange> Missing)
{
    public static StockUpdateResult Rejected(string? distributorId, long sequence, StockUpdateRejection rejection, string error, IReadOnlyList<StockItemError>? itemErrors = null, long previousSequence = 0) =>
        new(distributorId, sequence, StockUpdateOutcome.Rejected, 0, false, false, previousSequence, itemErrors ?? [], error, rejection, []);
}
