using System.Diagnostics;
using System.Diagnostics.Metrics;
using Brokering.Inventory.StockFeeds;

namespace Brokering.Inventory;

/// <summary>The service's own counters (meter <c>Brokering.Inventory</c>, exported on /metrics).</summary>
public sealed class InventoryMetrics
{
    public const string MeterName = "Brokering.Inventory";

    private readonly Counter<long> updates;
    private readonly Counter<long> itemsApplied;
    private readonly Counter<long> itemsRejected;
    private readonly Counter<long> gaps;
    private readonly Counter<long> refused;
    private readonly Counter<long> unitsHeld;
    private readonly Counter<long> holdsExpired;
    private readonly Counter<long> holdsShortfall;
    private readonly Histogram<int> holdBatchSize;

    public InventoryMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        updates = meter.CreateCounter<long>("inventory.feed.updates", description: "Stock updates received, by outcome.");
        itemsApplied = meter.CreateCounter<long>("inventory.feed.items_applied", description: "Stock items applied.");
        itemsRejected = meter.CreateCounter<long>("inventory.feed.items_rejected", description: "Stock items rejected.");
        gaps = meter.CreateCounter<long>("inventory.feed.gaps", description: "Updates that skipped sequences since the last applied one.");
        refused = meter.CreateCounter<long>("inventory.feed.refused", description: "Stock updates refused before being applied because their publisher could not be proven, by channel and reason.");
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

    public void UnitsHeld(long units) => unitsHeld.Add(units);

    public void HoldBatch(int calls) => holdBatchSize.Record(calls);

    public void HoldsExpired(int count) => holdsExpired.Add(count);

    public void HoldsShortfall(int count) => holdsShortfall.Add(count);
}
