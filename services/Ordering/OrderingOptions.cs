namespace Brokering.Ordering;

/// <summary>Tunables of the ordering service (section <c>Ordering</c>).</summary>
public sealed class OrderingOptions
{
    /// <summary>How long holds last unconfirmed (capped at the cutoff).</summary>
    public TimeSpan HoldTimeToLive { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long an Idempotency-Key is remembered.</summary>
    public TimeSpan IdempotencyKeyLifetime { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// How long a claimed Idempotency-Key may stay in flight before a retry may take it over: the request that
    /// claimed it died (a crashed process) and will never answer. Longer than any request runs.
    /// </summary>
    public TimeSpan IdempotencyClaimLease { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most lines one reservation may have.</summary>
    public int MaxLinesPerReservation { get; set; } = 50;

    /// <summary>Most units one line may ask for.</summary>
    public long MaxQuantityPerLine { get; set; } = 100_000;

    /// <summary>Most distributors one line is split across.</summary>
    public int MaxDistributorsPerLine { get; set; } = 3;

    /// <summary>
    /// Most units of one SKU one buyer may hold or have committed across its reservations, so no single
    /// buyer hoards a scarce SKU. Zero means no cap.
    /// </summary>
    public long MaxUnitsPerBuyerPerSku { get; set; }

    /// <summary>Currencies a price ceiling may be given in.</summary>
    public IReadOnlyList<string> SupportedCurrencies { get; set; } = ["USD"];
}
