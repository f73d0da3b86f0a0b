using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Inventory.StockFeeds;
using Brokering.Testing;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Deltas arriving out of order: each sequence is applied exactly once, whatever the order; a snapshot supersedes what
/// came before it; and a distributor whose feed still misses a delta is not offered.
/// </summary>
public sealed class FeedGapTests(InventoryFixture fixture)
{
    private const string H100 = "NVIDIA-H100-SXM5-80GB";
    private const string L4 = "NVIDIA-L4";

    [Fact]
    public async Task A_delta_that_arrives_after_the_one_that_skipped_it_is_applied_and_closes_the_gap()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40));

        var third = await fixture.DeltaAsync(distributor, 3, new Stock(H100, "SG1", -5));
        var gapped = await DistributorAsync(distributor);
        var second = await fixture.DeltaAsync(distributor, 2, new Stock(H100, "SG1", 10));
        var healed = await DistributorAsync(distributor);

        third.Outcome.ShouldBe(StockUpdateOutcome.Applied);
        third.GapDetected.ShouldBeTrue();
        gapped.GetProperty("gapOpen").GetBoolean().ShouldBeTrue();
        second.Outcome.ShouldBe(StockUpdateOutcome.Applied);
        second.ItemsApplied.ShouldBe(1);
        second.GapHealed.ShouldBeTrue();
        second.PreviousSequence.ShouldBe(3);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(45);
        healed.GetProperty("gapOpen").GetBoolean().ShouldBeFalse();
        healed.GetProperty("lastSequence").GetInt64().ShouldBe(3);
    }

    [Fact]
    public async Task A_late_delta_is_applied_once_and_sent_again_is_a_duplicate()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40));
        await fixture.DeltaAsync(distributor, 3, new Stock(H100, "SG1", -5));
        await fixture.DeltaAsync(distributor, 2, new Stock(H100, "SG1", 10));

        var again = await fixture.DeltaAsync(distributor, 2, new Stock(H100, "SG1", 10));
        var newest = await fixture.DeltaAsync(distributor, 3, new Stock(H100, "SG1", -5));

        again.Outcome.ShouldBe(StockUpdateOutcome.Duplicate);
        newest.Outcome.ShouldBe(StockUpdateOutcome.Duplicate);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(45);
    }

    [Fact]
    public async Task Deltas_filling_a_wide_gap_in_any_order_are_each_applied_and_the_gap_stays_open_until_the_last_arrives()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 100));
        await fixture.DeltaAsync(distributor, 6, new Stock(H100, "SG1", -1));

        var results = new List<StockUpdateResponse>();
        foreach (var (sequence, change) in new[] { (4L, -10L), (2L, -20L), (5L, 3L), (3L, 7L) })
        {
            results.Add(await fixture.DeltaAsync(distributor, sequence, new Stock(H100, "SG1", change)));
            if (sequence != 3)
            {
                (await DistributorAsync(distributor)).GetProperty("gapOpen").GetBoolean().ShouldBeTrue();
            }
        }

        results.Select(r => r.Outcome).ShouldAllBe(o => o == StockUpdateOutcome.Applied);
        results.Select(r => r.GapHealed).ShouldBe([false, false, false, true]);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(100 - 1 - 10 - 20 + 3 + 7);
        (await DistributorAsync(distributor)).GetProperty("gapOpen").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task Deltas_taken_out_of_order_from_the_amqp_queue_are_both_applied()
    {
        var distributor = await fixture.NewDistributorAsync();
        using var key = await fixture.RegisterFeedKeyAsync(distributor);
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40));

        foreach (var (sequence, change) in new[] { (3L, -5L), (2L, 10L) })
        {
            var body = JsonSerializer.Serialize(new
            {
                distributorId = distributor,
                sequence,
                kind = "Delta",
                items = new[] { new { sku = H100, warehouse = "SG1", quantityChange = change } },
            });
            await AmqpFeed.PublishAsync(fixture.VirtualHost, body, AmqpFeed.Sign(key, body));
        }

        var level = await Eventually.Latest(() => fixture.LevelAsync(distributor, H100, "SG1"), l => l.OnHand == 45);
        level.OnHand.ShouldBe(45);
        (await DistributorAsync(distributor)).GetProperty("gapOpen").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task Every_answer_names_the_sequences_still_missing_and_a_late_snapshot_says_which_gap_it_left_open()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40));

        var skipped = await fixture.DeltaAsync(distributor, 5, new Stock(H100, "SG1", -5));
        var third = await fixture.DeltaAsync(distributor, 3, new Stock(H100, "SG1", 2));
        // Above the last snapshot, below the deltas already applied: it cannot be applied over them, and sequence 2 (a
        // delta) is still missing.
        var lateSnapshot = await fixture.SnapshotAsync(distributor, 2, new Stock(H100, "SG1", 70));
        using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor(distributor));
        var fourth = new StockUpdate { DistributorId = distributor, Sequence = 4, Kind = UpdateKind.Delta };
        fourth.Items.Add(new StockItem { Sku = H100, Warehouse = "SG1", QuantityChange = 1 });
        await call.RequestStream.WriteAsync(fourth, TestContext.Current.CancellationToken);
        await call.RequestStream.CompleteAsync();
        var overGrpc = (await call).Results.Single();
        var newer = await fixture.SnapshotAsync(distributor, 6, new Stock(H100, "SG1", 50));

        skipped.Missing.ShouldBe([new SequenceRange(2, 4)]);
        third.Missing.ShouldBe([new SequenceRange(2, 2), new SequenceRange(4, 4)]);
        lateSnapshot.Outcome.ShouldBe(StockUpdateOutcome.Duplicate);
        lateSnapshot.Missing.ShouldBe([new SequenceRange(2, 2), new SequenceRange(4, 4)]);
        overGrpc.Outcome.ShouldBe(UpdateOutcome.Applied);
        overGrpc.Missing.Select(range => (range.From, range.To)).ShouldBe([(2L, 2L)]);
        newer.Missing.ShouldBeEmpty();
        newer.GapHealed.ShouldBeTrue();
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(50);
    }

    [Fact]
    public async Task A_delta_below_the_last_snapshot_is_superseded_and_not_applied_over_rest_and_grpc()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40));
        await fixture.DeltaAsync(distributor, 4, new Stock(H100, "SG1", -5));
        var snapshot = await fixture.SnapshotAsync(distributor, 5, new Stock(H100, "SG1", 100));

        var lateOverRest = await fixture.DeltaAsync(distributor, 2, new Stock(H100, "SG1", 10));
        using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor(distributor));
        var lateOverGrpc = new StockUpdate { DistributorId = distributor, Sequence = 3, Kind = UpdateKind.Delta };
        lateOverGrpc.Items.Add(new StockItem { Sku = H100, Warehouse = "SG1", QuantityChange = 7 });
        await call.RequestStream.WriteAsync(lateOverGrpc, TestContext.Current.CancellationToken);
        await call.RequestStream.CompleteAsync();
        var summary = await call;

        snapshot.GapHealed.ShouldBeTrue();
        lateOverRest.Outcome.ShouldBe(StockUpdateOutcome.Superseded);
        lateOverRest.ItemsApplied.ShouldBe(0);
        summary.Results.Single().Outcome.ShouldBe(UpdateOutcome.Superseded);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(100);
        (await DistributorAsync(distributor)).GetProperty("gapOpen").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task A_distributor_with_an_open_gap_is_not_offered_while_others_are_and_the_missing_delta_brings_it_back()
    {
        var gapped = await fixture.NewDistributorAsync();
        var steady = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(gapped, 1, new Stock(L4, "SG1", 8, Price: 900m));
        await fixture.SnapshotAsync(steady, 1, new Stock(L4, "SG1", 8, Price: 950m));

        await fixture.DeltaAsync(gapped, 3, new Stock(L4, "SG1", 1, Price: 900m));
        var whileGapped = await OfferingAsync(gapped, steady);
        await fixture.DeltaAsync(gapped, 2, new Stock(L4, "SG1", 1, Price: 900m));
        var afterMissingDelta = await OfferingAsync(gapped, steady);

        whileGapped.ByRest.ShouldBe([steady]);
        whileGapped.ByGrpc.ShouldBe([steady]);
        afterMissingDelta.ByRest.ShouldBe([gapped, steady]);
        afterMissingDelta.ByGrpc.ShouldBe([gapped, steady]);
    }

    [Fact]
    public async Task A_distributor_with_an_open_gap_is_offered_again_once_a_newer_snapshot_closes_it()
    {
        var gapped = await fixture.NewDistributorAsync();
        var steady = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(gapped, 1, new Stock(L4, "HK", 8, Price: 900m));
        await fixture.SnapshotAsync(steady, 1, new Stock(L4, "HK", 8, Price: 950m));

        await fixture.DeltaAsync(gapped, 5, new Stock(L4, "HK", -2, Price: 900m));
        var whileGapped = await OfferingAsync(gapped, steady);
        await fixture.SnapshotAsync(gapped, 6, new Stock(L4, "HK", 4, Price: 900m));
        var afterSnapshot = await OfferingAsync(gapped, steady);

        whileGapped.ByRest.ShouldBe([steady]);
        whileGapped.ByGrpc.ShouldBe([steady]);
        afterSnapshot.ByRest.ShouldBe([gapped, steady]);
        afterSnapshot.ByGrpc.ShouldBe([gapped, steady]);
    }

    [Fact]
    public async Task Holds_on_a_distributor_whose_feed_skipped_a_delta_are_refused_until_the_missing_delta_arrives()
    {
        var gapped = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(gapped, 1, new Stock(L4, "SG2", 8, Price: 900m));
        // A plan made from the offers read now, placed after the feed skipped sequence 2.
        (await OfferingAsync(gapped)).ByGrpc.ShouldBe([gapped]);
        await fixture.DeltaAsync(gapped, 3, new Stock(L4, "SG2", -1, Price: 900m));

        var whileGapped = await fixture.A.Ledger.PlaceHoldsAsync(
            InventoryFixture.PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(5), InventoryFixture.Hold(gapped, L4, "SG2", 2)));
        await fixture.DeltaAsync(gapped, 2, new Stock(L4, "SG2", 1, Price: 900m));
        var healed = await fixture.A.Ledger.PlaceHoldsAsync(
            InventoryFixture.PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(5), InventoryFixture.Hold(gapped, L4, "SG2", 2)));

        whileGapped.Holds.Single().Held.ShouldBe(0);
        healed.Holds.Single().Held.ShouldBe(2);
        (await fixture.LevelAsync(gapped, L4, "SG2")).Held.ShouldBe(2);
    }

    private async Task<JsonElement> DistributorAsync(string distributor) =>
        await fixture.A.Http.GetFromJsonAsync<JsonElement>($"/v1/distributors/{distributor}", TestContext.Current.CancellationToken);

    /// <summary>Which of these distributors the REST offers API and the gRPC GetOffers list for the L4, cheapest first.</summary>
    private async Task<(List<string> ByRest, List<string> ByGrpc)> OfferingAsync(params string[] distributors)
    {
        var rest = await fixture.A.Http.GetFromJsonAsync<JsonElement>($"/v1/skus/{L4}/offers", TestContext.Current.CancellationToken);
        var grpc = await fixture.A.Ledger.GetOffersAsync(new GetOffersRequest { Sku = L4, Quantity = 1 }, cancellationToken: TestContext.Current.CancellationToken);
        return (
            [.. rest.EnumerateArray().Select(o => o.GetProperty("distributorId").GetString()!).Where(distributors.Contains)],
            [.. grpc.Offers.Select(o => o.DistributorId).Where(distributors.Contains)]);
    }
}
