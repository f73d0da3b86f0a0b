using System.Globalization;
using Brokering.Contracts.Grpc.Inventory;
using static Brokering.Inventory.Tests.InventoryFixture;

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
    public async Task Metrics_export_feed_age_and_staleness_per_distributor_and_the_holds_active()
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

        // The gauges read the database at most every few seconds: scrape until this test's distributors appear.
        var metrics = await ScrapeUntilAsync(text => text.Contains($"distributor=\"{quiet}\"", StringComparison.Ordinal), ct);

        Sample(metrics, "inventory_feed_age_seconds", $"distributor=\"{quiet}\"").ShouldBeGreaterThanOrEqualTo(7200 - 60);
        Sample(metrics, "inventory_feed_age_seconds", $"distributor=\"{fresh}\"").ShouldBeLessThan(15 * 60);
        Sample(metrics, "inventory_feed_stale", $"distributor=\"{quiet}\"").ShouldBe(1);
        Sample(metrics, "inventory_feed_stale", $"distributor=\"{fresh}\"").ShouldBe(0);
        // Other tests hold units on the same database at the same time: at least this test's hold is counted.
        Sample(metrics, "inventory_holds_active").ShouldBeGreaterThanOrEqualTo(1);
        Sample(metrics, "inventory_holds_active_units").ShouldBeGreaterThanOrEqualTo(42);
    }

    private async Task<string> ScrapeUntilAsync(Func<string, bool> done, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            var text = await fixture.A.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
            if (done(text) || DateTime.UtcNow > deadline)
            {
                return text;
            }

            await Task.Delay(500, ct);
        }
    }

    /// <summary>The value of the first sample of <paramref name="name"/> whose labels contain <paramref name="label"/>.</summary>
    private static double Sample(string exposition, string name, string? label = null)
    {
        var line = exposition.Split('\n').FirstOrDefault(line =>
            (line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
            && (label is null || line.Contains(label, StringComparison.Ordinal)));
        line.ShouldNotBeNull($"No sample {name} {label} in:\n{exposition}");
        var value = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
        return double.Parse(value, CultureInfo.InvariantCulture);
    }
}
