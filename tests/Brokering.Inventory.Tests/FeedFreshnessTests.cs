using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Brokering.Contracts.Grpc.Inventory;
using Microsoft.Extensions.DependencyInjection;
using static Brokering.Inventory.Tests.InventoryFixture;
using Brokering.Testing;

namespace Brokering.Inventory.Tests;

/// <summary>
/// How fresh each distributor's feed is: over gRPC for ordering's ops console, and as gauges on /metrics
/// (with active holds), so an operator sees a distributor going quiet before its stock stops being offered.
/// </summary>
public sealed class FeedFreshnessTests(InventoryFixture fixture)
{
    private const string H800 = "NVIDIA-H800-SXM5-80GB";

    [Fact]
    public async Task Feed_freshness_reports_each_distributors_last_feed_and_marks_old_or_missing_feeds_stale()
    {
        var ct = TestContext.Current.CancellationToken;
        var fresh = await fixture.NewDistributorAsync();
        var quiet = await fixture.NewDistributorAsync();
        var silent = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(fresh, 7, new Stock(H800, "SG1", 10));
        await fixture.SnapshotAsync(quiet, 3, new Stock(H800, "SG1", 10));
        await fixture.ExecuteSqlAsync("UPDATE distributors SET last_feed_at = now() - interval '1 hour' WHERE id = @id", ("id", quiet));

        var answer = await fixture.A.Ledger.GetFeedFreshnessAsync(new GetFeedFreshnessRequest(), cancellationToken: ct);

        answer.StaleAfter.ToTimeSpan().ShouldBe(TimeSpan.FromMinutes(15));
        var asOf = answer.AsOf.ToDateTimeOffset();
        var byId = answer.Distributors.ToDictionary(d => d.DistributorId);
        byId[fresh].Stale.ShouldBeFalse();
        byId[fresh].LastSequence.ShouldBe(7);
        (asOf - byId[fresh].LastFeedAt.ToDateTimeOffset()).ShouldBeLessThan(TimeSpan.FromMinutes(15));
        byId[quiet].Stale.ShouldBeTrue();
        (asOf - byId[quiet].LastFeedAt.ToDateTimeOffset()).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMinutes(59));
        byId[silent].Stale.ShouldBeTrue();
        byId[silent].LastFeedAt.ShouldBeNull();
        byId[silent].Name.ShouldBe($"Test distributor {silent}");
        answer.Distributors.Select(d => d.DistributorId).ShouldBe(answer.Distributors.Select(d => d.DistributorId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Gauges_report_feed_age_and_staleness_per_distributor_and_the_holds_active()
    {
        var ct = TestContext.Current.CancellationToken;
        var fresh = await fixture.NewDistributorAsync();
        var quiet = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(fresh, 1, new Stock(H800, "SG1", 50));
        await fixture.SnapshotAsync(quiet, 1, new Stock(H800, "SG1", 10));
        await fixture.ExecuteSqlAsync("UPDATE distributors SET last_feed_at = now() - interval '2 hours' WHERE id = @id", ("id", quiet));
        var placed = await fixture.A.Ledger.PlaceHoldsAsync(
            PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(30), Hold(fresh, H800, "SG1", 42)), cancellationToken: ct);
        placed.Holds[0].Held.ShouldBe(42);

        // Read through replica A's own meter, not a /metrics scrape: every host of this test process exports every
        // meter named Brokering.Inventory, so a scrape may show another host's gauges (and its database).
        using var gauges = new GaugeReadings(fixture.A.Services.GetRequiredService<IMeterFactory>());

        // The gauges read the database at most every few seconds: read until this test's distributors appear.
        await Eventually.Latest(() =>
        {
            gauges.Read();
            return Task.FromResult(gauges.Value("inventory.feed.age", quiet));
        }, age => age is not null, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(500), cancellationToken: ct);

        gauges.Value("inventory.feed.age", quiet).ShouldNotBeNull().ShouldBeGreaterThanOrEqualTo(7200 - 60);
        gauges.Value("inventory.feed.age", fresh).ShouldNotBeNull().ShouldBeLessThan(15 * 60);
        gauges.Value("inventory.feed.stale", quiet).ShouldBe(1);
        gauges.Value("inventory.feed.stale", fresh).ShouldBe(0);
        // Other tests hold units on the same database at the same time: at least this test's hold is counted.
        gauges.Value("inventory.holds.active").ShouldNotBeNull().ShouldBeGreaterThanOrEqualTo(1);
        gauges.Value("inventory.holds.active_units").ShouldNotBeNull().ShouldBeGreaterThanOrEqualTo(42);
    }

    /// <summary>The latest observation of each inventory gauge of one host, per distributor tag.</summary>
    private sealed class GaugeReadings : IDisposable
    {
        private readonly MeterListener listener = new();
        private readonly ConcurrentDictionary<(string Instrument, string? Distributor), double> values = new();

        public GaugeReadings(IMeterFactory hostMeters)
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == hostMeters && instrument.Meter.Name == InventoryMetrics.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Keep(instrument, value, tags));
            listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Keep(instrument, value, tags));
            listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Keep(instrument, value, tags));
            listener.Start();
            Read();
        }

        public void Read() => listener.RecordObservableInstruments();

        public double? Value(string instrument, string? distributor = null) =>
            values.TryGetValue((instrument, distributor), out var value) ? value : null;

        public void Dispose() => listener.Dispose();

        private void Keep(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? distributor = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "distributor")
                {
                    distributor = tag.Value as string;
                }
            }

            values[(instrument.Name, distributor)] = value;
        }
    }
}
