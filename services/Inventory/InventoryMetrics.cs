using System.Diagnostics;
using System.Diagnostics.Metrics;
using Brokering.Inventory.Data;
using Brokering.Inventory.Distributors;
using Brokering.Inventory.StockFeeds;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Inventory;

/// <summary>The service's own instruments (meter <c>Brokering.Inventory</c>, exported on /metrics).</summary>
public sealed class InventoryMetrics
{
    public const string MeterName = "Brokering.Inventory";

    /// <summary>How long feed freshness and active holds, read from the database, are reused before it is asked again.</summary>
    public static readonly TimeSpan SnapshotLifetime = TimeSpan.FromSeconds(5);

    private readonly IServiceScopeFactory scopes;
    private readonly TimeProvider clock;
    private readonly IOptions<InventoryOptions> options;
    private readonly Lock snapshotLock = new();
    private Snapshot snapshot = new([], 0, 0);
    private DateTimeOffset snapshotAt = DateTimeOffset.MinValue;

    private readonly Counter<long> updates;
    private readonly Counter<long> itemsApplied;
    private readonly Counter<long> itemsRejected;
    private readonly Counter<long> gaps;
    private readonly Counter<long> refused;
    private readonly Counter<long> offersSkipped;
    private readonly Counter<long> unitsHeld;
    private readonly Counter<long> holdsExpired;
    private readonly Counter<long> holdsShortfall;
    private readonly Histogram<int> holdBatchSize;

    public InventoryMetrics(IMeterFactory meterFactory, IServiceScopeFactory scopes, TimeProvider clock, IOptions<InventoryOptions> options)
    {
        this.scopes = scopes;
        this.clock = clock;
        this.options = options;
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("inventory.feed.age", ObserveFeedAge, "s",
            "Seconds since each distributor's feed last applied an update (tag: distributor; absent before the first).");
        meter.CreateObservableGauge("inventory.feed.stale", ObserveFeedStale, "{distributor}",
            "1 when a distributor's feed never applied or is older than Inventory:StaleAfter (its stock is neither offered nor held), else 0.");
        meter.CreateObservableGauge("inventory.holds.active", () => (long)Current().ActiveHolds, "{hold}",
            "Holds currently active (placed, neither committed, released nor expired).");
        meter.CreateObservableGauge("inventory.holds.active_units", () => Current().ActiveUnits, "{unit}",
            "Units held by active holds.");
        updates = meter.CreateCounter<long>("inventory.feed.updates", description: "Stock updates received, by outcome.");
        itemsApplied = meter.CreateCounter<long>("inventory.feed.items_applied", description: "Stock items applied.");
        itemsRejected = meter.CreateCounter<long>("inventory.feed.items_rejected", description: "Stock items rejected.");
        gaps = meter.CreateCounter<long>("inventory.feed.gaps", description: "Updates that skipped sequences since the last applied one.");
        refused = meter.CreateCounter<long>("inventory.feed.refused", description: "Stock updates refused before being applied because their publisher could not be proven, by channel and reason.");
        offersSkipped = meter.CreateCounter<long>("inventory.offers.skipped", description: "Stock levels left out of offers because no caller could use them (a price out of bounds), by distributor.");
        unitsHeld = meter.CreateCounter<long>("inventory.holds.units_held", description: "Units held by PlaceHolds.");
        holdsExpired = meter.CreateCounter<long>("inventory.holds.expired", description: "Holds released by the expiry sweeper.");
        holdsShortfall = meter.CreateCounter<long>("inventory.holds.shortfall", description: "Holds flagged as shortfall by a stock update.");
        holdBatchSize = meter.CreateHistogram<int>("inventory.holds.batch_size", description: "PlaceHolds calls sharing one transaction.");
    }

    public void Record(StockUpdateResult result, string channel)
    {
        var tags = new TagList { { "outcome", result.Outcome.ToString() }, { "channel", channel } };
        updates.Add(1, tags);
        itemsApplied.Add(result.ItemsApplied, new KeyValuePair<string, object?>("channel", channel));
        itemsRejected.Add(result.ItemErrors.Count, new KeyValuePair<string, object?>("channel", channel));
        if (result.GapDetected)
        {
            gaps.Add(1, new KeyValuePair<string, object?>("distributor", result.DistributorId));
        }
    }

    public void FeedRefused(string channel, FeedRefusal reason) =>
        refused.Add(1, new TagList { { "channel", channel }, { "reason", reason.ToString() } });

    public void OfferSkipped(string distributorId) =>
        offersSkipped.Add(1, new KeyValuePair<string, object?>("distributor", distributorId));

    public void UnitsHeld(long units) => unitsHeld.Add(units);

    public void HoldBatch(int calls) => holdBatchSize.Record(calls);

    public void HoldsExpired(int count) => holdsExpired.Add(count);

    public void HoldsShortfall(int count) => holdsShortfall.Add(count);

    private IEnumerable<Measurement<double>> ObserveFeedAge() =>
        Current().Feeds.Where(feed => feed.Age is not null).Select(feed => new Measurement<double>(
            Math.Max(0, feed.Age!.Value.TotalSeconds), new KeyValuePair<string, object?>("distributor", feed.DistributorId)));

    private IEnumerable<Measurement<int>> ObserveFeedStale() =>
        Current().Feeds.Select(feed => new Measurement<int>(feed.Stale ? 1 : 0, new KeyValuePair<string, object?>("distributor", feed.DistributorId)));

    private Snapshot Current()
    {
        lock (snapshotLock)
        {
            var now = clock.GetUtcNow();
            if (now - snapshotAt < SnapshotLifetime)
            {
                // Ages keep growing between reads: report them to now, the stale flags as last judged.
                return snapshot with { Feeds = [.. snapshot.Feeds.Select(feed => feed with { AsOf = now })] };
            }

            try
            {
                // Observable instruments are read synchronously by the exporter; the cache bounds the cost to two
                // small reads (distributors, and the partial index of active holds) per lifetime, however often
                // /metrics is scraped.
                using var scope = scopes.CreateScope();
                var db = scope.ServiceProvider.GetRequiredService<InventoryDbContext>();
                var feeds = DistributorFeed.AllAsync(db, now, options.Value.StaleAfter, CancellationToken.None).GetAwaiter().GetResult();
                var active = db.Holds.AsNoTracking().Where(h => h.Status == HoldStatus.Active)
                    .GroupBy(h => 1).Select(g => new { Holds = g.Count(), Units = g.Sum(h => h.Quantity) }).SingleOrDefault();
                snapshot = new Snapshot(feeds, active?.Holds ?? 0, active?.Units ?? 0);
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
            {
                // The database is down: report the last snapshot (readiness says the rest) and try again later.
            }

            snapshotAt = now;
            return snapshot;
        }
    }

    private sealed record Snapshot(IReadOnlyList<DistributorFeed> Feeds, int ActiveHolds, long ActiveUnits);
}
