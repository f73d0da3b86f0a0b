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

    /// <summary>How often ordering's copy of the catalogue SKUs is refreshed from compliance.</summary>
    public TimeSpan CatalogueRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Past this age (compliance unreachable meanwhile) the catalogue copy refuses nothing, so a product
    /// added since is not refused; compliance's screening rejects an unknown SKU instead.
    /// </summary>
    public TimeSpan CatalogueMaxAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a reservation may wait for compliance to screen it (compliance unreachable throughout) before it
    /// ends Rejected: a reservation has no cutoff until it is screened, so this bounds its life instead.
    /// </summary>
    public TimeSpan ScreeningDeadline { get; set; } = TimeSpan.FromHours(4);

    /// <summary>How an activity whose dependency is down is tried again.</summary>
    public ActivityRetryOptions ActivityRetry { get; set; } = new();

    /// <summary>Currencies a price ceiling may be given in.</summary>
    public IReadOnlyList<string> SupportedCurrencies { get; set; } = ["USD"];
}

/// <summary>
/// How an activity whose call fails is tried again, in memory (the consumer slot is held meanwhile). The
/// defaults match the policy ordering always had: 20 tries, backing off to a minute between tries.
/// </summary>
public sealed class ActivityRetryOptions
{
    /// <summary>Tries after the first before the message faults to the endpoint's error queue.</summary>
    public int InMemoryRetries { get; set; } = 20;

    public TimeSpan InMemoryMinInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan InMemoryMaxInterval { get; set; } = TimeSpan.FromMinutes(1);

    public TimeSpan InMemoryIntervalDelta { get; set; } = TimeSpan.FromMilliseconds(500);
}
