using Microsoft.Extensions.Options;

namespace Brokering.Ordering;

/// <summary>Tunables of the ordering service (section <c>Ordering</c>).</summary>
public sealed class OrderingOptions
{
    /// <summary>
    /// How long holds last unconfirmed (capped at the cutoff). A reservation waiting for stock (AwaitingStock) renews its
    /// holds when half of this is left, each time to this much from then, up to its cutoff.
    /// </summary>
    public TimeSpan HoldTimeToLive { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How soon a renewal of the holds that inventory did not answer is tried again (sooner when the holds' window ends
    /// sooner): a renewal is taken at once by the saga, not by a retrying command.
    /// </summary>
    public TimeSpan HoldRenewalRetryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an Idempotency-Key is remembered.</summary>
    public TimeSpan IdempotencyKeyLifetime { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// How long a claimed Idempotency-Key may stay in flight before a retry may take it over: the request that
    /// claimed it died (a crashed process) and will never answer. Longer than any request runs.
    /// </summary>
    public TimeSpan IdempotencyClaimLease { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Most reservations one bulk submission may carry (JSON items, or CSV idempotency keys). Each is charged to the
    /// caller's rate limit like a single submission, so this stays well under a tenant's burst.
    /// </summary>
    public int MaxReservationsPerBulk { get; set; } = 100;

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

    /// <summary>
    /// How many passed-over reservations (stock was on offer but they could not take it: price ceiling, minimum order,
    /// the buyer's cap) one stock announcement wakes besides those it wakes for its units, least recently passed over
    /// first. Bounds the work a rise of stock costs while no waiting buyer is skipped for good.
    /// </summary>
    public int PassedOverWokenPerStockAnnouncement { get; set; } = 8;

    /// <summary>How often ordering's copy of the catalogue SKUs is refreshed from compliance.</summary>
    public TimeSpan CatalogueRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Past this age (compliance unreachable meanwhile) the catalogue copy no longer calls a SKU it does not list
    /// unknown (a product added since would be refused wrongly): such a submission is refused as retryable (503)
    /// until compliance answers, while the SKUs it lists are still accepted.
    /// </summary>
    public TimeSpan CatalogueMaxAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long after submission a reservation may wait for compliance to screen it (compliance unreachable throughout,
    /// or a potential match no compliance officer has ruled on) before it ends Rejected: a reservation has no cutoff until
    /// it is screened, so this bounds its life instead. Ordering sends it to compliance with every screening
    /// (<c>decide_by</c>), for the officers' review queue.
    /// </summary>
    public TimeSpan ScreeningDeadline { get; set; } = TimeSpan.FromHours(4);

    /// <summary>
    /// How long after its approval a reservation that no cutoff bounds (compliance gave none: nothing restricts the
    /// sale) may wait to be filled and confirmed before it ends Expired with everything released. A cutoff bounds
    /// every other reservation's wait; without one, a reservation waiting for stock or for an allocation whose
    /// dependency never recovers would otherwise never end.
    /// </summary>
    public TimeSpan FillDeadlineWithoutCutoff { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long the saga waits for compliance or inventory when it takes a step at once, inside the transaction of the
    /// event that led to it (one attempt, no retry). A service that does not answer within it is asked again through
    /// the step's command and its retrying consumer, so a slow dependency costs a reservation this much, not a stall.
    /// </summary>
    public TimeSpan ImmediateStepDeadline { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How many saga events one replica handles at a time (events of one reservation still apply one after another).
    /// A saga event may wait on compliance and inventory for the steps it takes at once, so this is well above the
    /// broker's default of two per core; each event in flight holds one database connection.
    /// </summary>
    public int SagaConcurrency { get; set; } = 32;

    /// <summary>How an activity whose dependency is down is tried again.</summary>
    public ActivityRetryOptions ActivityRetry { get; set; } = new();

    /// <summary>Currencies a price ceiling may be given in.</summary>
    public IReadOnlyList<string> SupportedCurrencies { get; set; } = ["USD"];
}

/// <summary>
/// How a message whose handling fails is tried again: a few times in memory (the consumer slot is held meanwhile,
/// so briefly), then redelivered durably through the PostgreSQL scheduler, which frees the slot and survives a
/// restart. A dependency that is down is so waited for as long as the reservation can still use the answer: the
/// activities do nothing for a reservation that has ended, and the saga's screening deadline, cutoff and hold expiry
/// end it. Past the last redelivery the message faults to the endpoint's error queue.
/// </summary>
public sealed class ActivityRetryOptions
{
    /// <summary>Tries after the first, in memory, before the message is handed to the scheduler.</summary>
    public int InMemoryRetries { get; set; } = 3;

    public TimeSpan InMemoryMinInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan InMemoryMaxInterval { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan InMemoryIntervalDelta { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The first redeliveries' delays, in order (unset: 10 s, 30 s, 1 min, 2 min). Configuration replaces the whole
    /// list rather than adding to it, hence no default items on the property itself.
    /// </summary>
    public IReadOnlyList<TimeSpan>? Redeliveries { get; set; }

    /// <summary>Delay of every redelivery after <see cref="Redeliveries"/>.</summary>
    public TimeSpan RedeliveryRepeatInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How many redeliveries follow <see cref="Redeliveries"/> at <see cref="RedeliveryRepeatInterval"/>. The default
    /// (60, five hours) outlasts the screening deadline, so a reservation always ends before its messages give up.
    /// </summary>
    public int RedeliveryRepeats { get; set; } = 60;

    /// <summary>Every redelivery delay, in order.</summary>
    public IReadOnlyList<TimeSpan> RedeliveryIntervals() =>
    [
        .. Redeliveries ?? [TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2)],
        .. Enumerable.Repeat(RedeliveryRepeatInterval, Math.Max(0, RedeliveryRepeats)),
    ];
}

/// <summary>How <see cref="OrderingOptions"/> is read from configuration.</summary>
public static class OrderingOptionsBinding
{
    /// <summary>
    /// Binds the <c>Ordering</c> section. The binder appends a configured list to the one a property starts with
    /// (USD, USD, EUR, CNY); a configured list of currencies replaces the default instead, so an installation that lists
    /// only EUR does not accept USD.
    /// </summary>
    public static OptionsBuilder<OrderingOptions> BindOrderingSection(this OptionsBuilder<OrderingOptions> options) =>
        options.BindConfiguration("Ordering").PostConfigure<IConfiguration>((bound, configuration) =>
        {
            if (configuration.GetSection("Ordering:SupportedCurrencies").Get<string[]>() is { Length: > 0 } currencies)
            {
                bound.SupportedCurrencies = [.. currencies.Distinct(StringComparer.Ordinal)];
            }
        });
}
