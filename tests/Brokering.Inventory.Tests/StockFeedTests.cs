using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Inventory;
using Brokering.Inventory.StockFeeds;
using MassTransit;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Brokering.Testing;

namespace Brokering.Inventory.Tests;

public sealed class StockFeedTests(InventoryFixture fixture)
{
    private const string H100 = "NVIDIA-H100-SXM5-80GB";
    private const string H20 = "NVIDIA-H20";
    private const string L40S = "NVIDIA-L40S";

    [Fact]
    public async Task A_snapshot_is_the_whole_truth_and_zeroes_what_it_does_not_list()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40), new Stock(H20, "SG1", 15));

        var result = await fixture.SnapshotAsync(distributor, 2, new Stock(H100, "SG1", 35));

        result.Outcome.ShouldBe(StockUpdateOutcome.Applied);
        result.ItemsApplied.ShouldBe(1);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(35);
        (await fixture.LevelAsync(distributor, H20, "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_delta_changes_only_the_items_it_lists()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40), new Stock(H20, "SG1", 15));

        var result = await fixture.DeltaAsync(distributor, 2, new Stock(H100, "SG1", -5), new Stock(L40S, "HK", 7));

        result.ItemsApplied.ShouldBe(2);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(35);
        (await fixture.LevelAsync(distributor, H20, "SG1")).OnHand.ShouldBe(15);
        (await fixture.LevelAsync(distributor, L40S, "HK")).OnHand.ShouldBe(7);
    }

    [Fact]
    public async Task An_update_applied_before_is_a_duplicate_and_changes_nothing()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 5, new Stock(H100, "SG1", 40));
        await fixture.DeltaAsync(distributor, 6, new Stock(H100, "SG1", -10));

        var repeated = await fixture.SnapshotAsync(distributor, 5, new Stock(H100, "SG1", 1));
        var repeatedDelta = await fixture.DeltaAsync(distributor, 6, new Stock(H100, "SG1", -10));

        repeated.Outcome.ShouldBe(StockUpdateOutcome.Duplicate);
        repeated.PreviousSequence.ShouldBe(6);
        repeatedDelta.Outcome.ShouldBe(StockUpdateOutcome.Duplicate);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(30);
    }

    [Fact]
    public async Task A_skipped_sequence_is_reported_as_a_gap_and_the_next_snapshot_heals_it()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40));

        var delta = await fixture.DeltaAsync(distributor, 4, new Stock(H100, "SG1", -1));
        var afterGap = await fixture.A.Http.GetFromJsonAsync<JsonElement>($"/v1/distributors/{distributor}");
        var snapshot = await fixture.SnapshotAsync(distributor, 5, new Stock(H100, "SG1", 30));
        var healed = await fixture.A.Http.GetFromJsonAsync<JsonElement>($"/v1/distributors/{distributor}");

        delta.Outcome.ShouldBe(StockUpdateOutcome.Applied);
        delta.GapDetected.ShouldBeTrue();
        delta.PreviousSequence.ShouldBe(1);
        afterGap.GetProperty("gapOpen").GetBoolean().ShouldBeTrue();
        snapshot.GapDetected.ShouldBeFalse();
        snapshot.GapHealed.ShouldBeTrue();
        healed.GetProperty("gapOpen").GetBoolean().ShouldBeFalse();
        healed.GetProperty("lastSequence").GetInt64().ShouldBe(5);
    }

    [Fact]
    public async Task Invalid_items_are_reported_one_by_one_and_the_valid_items_of_the_update_are_applied()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 10));

        using var response = await fixture.PostFeedAsync(distributor, new
        {
            distributorId = distributor,
            sequence = 2,
            kind = "Delta",
            items = new object[]
            {
                new { sku = "NVIDIA-GTX-1080", warehouse = "SG1", quantityChange = 5, unitPrice = 1, currency = "USD" },
                new { sku = H100, warehouse = "SG1", quantityChange = -11 },
                new { sku = H20, warehouse = "SG1", quantityChange = 9, unitPrice = 15000, currency = "USD" },
                new { sku = L40S, warehouse = "SG1", quantityOnHand = 3, unitPrice = 1, currency = "USD" },
                new { sku = L40S, warehouse = "HK", quantityChange = 2 },
            },
        });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var result = (await response.Content.ReadFromJsonAsync<StockUpdateResponse>(InventoryFixture.Json))!;
        result.Outcome.ShouldBe(StockUpdateOutcome.Applied);
        result.ItemsApplied.ShouldBe(1);
        result.ItemErrors.Select(e => (e.Index, e.Field)).ShouldBe(
        [
            (0, "items[0].sku"),
            (1, "items[1].quantityChange"),
            (3, "items[3].quantityOnHand"),
            (4, "items[4].unitPrice"),
        ]);
        result.ItemErrors[0].Error.ShouldContain("Unknown SKU");
        result.ItemErrors[1].Error.ShouldContain("below zero");
        (await fixture.LevelAsync(distributor, H20, "SG1")).OnHand.ShouldBe(9);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(10);
    }

    [Theory]
    [InlineData("Snapshot")]
    [InlineData("Delta")]
    public async Task An_item_naming_its_level_with_a_NUL_is_refused_alone_and_the_rest_of_the_update_is_applied(string kind)
    {
        // PostgreSQL text cannot hold a NUL: sent on as the key of a level, it failed the whole update with a 500.
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 10), new Stock(H20, "SG1", 4));
        object Item(string sku, string warehouse, long units) => kind == "Snapshot"
            ? (object)new { sku, warehouse, quantityOnHand = units, unitPrice = 1, currency = "USD" }
            : new { sku, warehouse, quantityChange = units };

        using var response = await fixture.PostFeedAsync(distributor, new
        {
            distributorId = distributor,
            sequence = 2,
            kind,
            items = new[] { Item(H20, "SG1", 7), Item(H100, "SG1\0", 1), Item("NVIDIA\0H100", "SG1", 1), Item(H100, "SG\u00011", 1) },
        });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var result = (await response.Content.ReadFromJsonAsync<StockUpdateResponse>(InventoryFixture.Json))!;
        result.Outcome.ShouldBe(StockUpdateOutcome.Applied);
        result.ItemsApplied.ShouldBe(1);
        result.ItemErrors.Select(e => e.Field).ShouldBe(["items[1].warehouse", "items[2].sku", "items[3].warehouse"]);
        (await fixture.LevelAsync(distributor, H20, "SG1")).OnHand.ShouldBe(kind == "Snapshot" ? 7 : 11);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(kind == "Snapshot" ? 0 : 10);
    }

    [Fact]
    public async Task A_snapshot_with_negative_on_hand_keeps_the_level_it_names_and_applies_the_rest()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 10), new Stock(H20, "SG1", 4));

        using var response = await fixture.PostFeedAsync(distributor, new
        {
            distributorId = distributor,
            sequence = 2,
            kind = "Snapshot",
            items = new object[]
            {
                new { sku = H100, warehouse = "SG1", quantityOnHand = -1, unitPrice = 1, currency = "USD" },
                new { sku = L40S, warehouse = "SG1", quantityOnHand = 6, unitPrice = 1, currency = "USD" },
            },
        });

        var result = (await response.Content.ReadFromJsonAsync<StockUpdateResponse>(InventoryFixture.Json))!;
        result.ItemErrors.Single().Field.ShouldBe("items[0].quantityOnHand");
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(10);
        (await fixture.LevelAsync(distributor, H20, "SG1")).OnHand.ShouldBe(0);
        (await fixture.LevelAsync(distributor, L40S, "SG1")).OnHand.ShouldBe(6);
    }

    [Fact]
    public async Task An_update_whose_every_item_is_invalid_is_rejected_with_field_paths_and_does_not_advance_the_sequence()
    {
        var distributor = await fixture.NewDistributorAsync();

        using var response = await fixture.PostFeedAsync(distributor, new
        {
            distributorId = distributor,
            sequence = 1,
            kind = "Snapshot",
            items = new object[] { new { sku = "UNKNOWN", warehouse = "SG1", quantityOnHand = 1, unitPrice = 1, currency = "USD" } },
        });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>())!;
        problem.Errors.ShouldContainKey("items[0].sku");
        var retry = await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 1));
        retry.Outcome.ShouldBe(StockUpdateOutcome.Applied);
    }

    [Fact]
    public async Task A_malformed_update_is_refused_with_problem_details()
    {
        var distributor = await fixture.NewDistributorAsync();

        using var mismatch = await fixture.PostFeedAsync(distributor, new { distributorId = "someone-else", sequence = 1, kind = "Snapshot", items = Array.Empty<object>() });
        using var noKind = await fixture.PostFeedAsync(distributor, new { distributorId = distributor, sequence = 1, items = Array.Empty<object>() });
        using var notJson = await fixture.A.Http.PostAsync(
            $"/v1/distributors/{distributor}/stock-feed", new StringContent("{\"sequence\": 1, \"kind\": ", System.Text.Encoding.UTF8, "application/json"));
        using var unknown = await fixture.PostFeedAsync("nobody-at-all", new { distributorId = "nobody-at-all", sequence = 1, kind = "Delta", items = Array.Empty<object>() });

        mismatch.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await mismatch.Content.ReadFromJsonAsync<ValidationProblemDetails>())!.Errors.ShouldContainKey("distributorId");
        noKind.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await noKind.Content.ReadFromJsonAsync<ValidationProblemDetails>())!.Errors.ShouldContainKey("kind");
        notJson.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        notJson.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_grpc_stream_applies_thousands_of_items_and_reports_each_update()
    {
        var distributor = await fixture.NewDistributorAsync();
        var skus = new[] { H100, H20, L40S, "NVIDIA-A800-SXM4-80GB", "NVIDIA-L4" };
        var snapshot = Update(distributor, 1, UpdateKind.Snapshot);
        for (var w = 0; w < 1000; w++)
        {
            foreach (var sku in skus)
            {
                snapshot.Items.Add(new StockItem { Sku = sku, Warehouse = $"W{w:D4}", QuantityOnHand = w + 1, UnitPrice = 1000.25m, Currency = "USD", LeadTimeDays = 3 });
            }
        }

        var delta = Update(distributor, 2, UpdateKind.Delta);
        for (var w = 0; w < 1000; w++)
        {
            delta.Items.Add(new StockItem { Sku = H100, Warehouse = $"W{w:D4}", QuantityChange = -1 });
        }

        delta.Items.Add(new StockItem { Sku = "NOT-A-SKU", Warehouse = "W0000", QuantityChange = 1 });

        using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor(distributor));
        var stopwatch = Stopwatch.StartNew();
        await call.RequestStream.WriteAsync(snapshot);
        await call.RequestStream.WriteAsync(delta);
        await call.RequestStream.WriteAsync(delta);
        await call.RequestStream.CompleteAsync();
        var summary = await call;
        stopwatch.Stop();

        summary.Results.Select(r => r.Outcome).ShouldBe([UpdateOutcome.Applied, UpdateOutcome.Applied, UpdateOutcome.Duplicate]);
        summary.Results[0].ItemsApplied.ShouldBe(5000);
        summary.Results[1].ItemsApplied.ShouldBe(1000);
        summary.Results[1].ItemErrors.Single().Index.ShouldBe(1000);
        (await fixture.LevelAsync(distributor, H100, "W0999")).OnHand.ShouldBe(999);
        (await fixture.LevelAsync(distributor, H20, "W0999")).OnHand.ShouldBe(1000);
        TestContext.Current.TestOutputHelper?.WriteLine($"6000 items in {stopwatch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task A_large_delta_staged_by_copy_reports_each_invalid_item_flags_the_youngest_hold_short_and_applies_the_rest()
    {
        var distributor = await fixture.NewDistributorAsync();
        var levels = Enumerable.Range(0, 200).Select(w => new Stock(H20, $"W{w:D3}", 5)).Append(new Stock(H100, "SG1", 30)).ToArray();
        await fixture.SnapshotAsync(distributor, 1, levels);
        var older = Guid.NewGuid();
        var younger = Guid.NewGuid();
        await fixture.A.Ledger.PlaceHoldsAsync(InventoryFixture.PlaceRequest(older, 1, TimeSpan.FromMinutes(5), InventoryFixture.Hold(distributor, H100, "SG1", 10)));
        await Task.Delay(20);
        await fixture.A.Ledger.PlaceHoldsAsync(InventoryFixture.PlaceRequest(younger, 1, TimeSpan.FromMinutes(5), InventoryFixture.Hold(distributor, H100, "SG1", 10)));

        // Well above the size from which the items are staged with binary COPY.
        var items = new List<object>
        {
            new { sku = H100, warehouse = "SG1", quantityChange = -15 },
            new { sku = H20, warehouse = "W000", quantityChange = -6 },
            new { sku = L40S, warehouse = "NEW", quantityChange = 4 },
            new { sku = "NVIDIA-GTX-1080", warehouse = "SG1", quantityChange = 1, unitPrice = 1, currency = "USD" },
        };
        items.AddRange(Enumerable.Range(1, 199).Select(w => (object)new { sku = H20, warehouse = $"W{w:D3}", quantityChange = w }));
        using var response = await fixture.PostFeedAsync(distributor, new { distributorId = distributor, sequence = 2, kind = "Delta", items });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var result = (await response.Content.ReadFromJsonAsync<StockUpdateResponse>(InventoryFixture.Json))!;
        result.Outcome.ShouldBe(StockUpdateOutcome.Applied);
        result.ItemsApplied.ShouldBe(200);
        result.ItemErrors.Select(e => (e.Index, e.Field)).ShouldBe(
        [
            (1, "items[1].quantityChange"),
            (2, "items[2].unitPrice"),
            (3, "items[3].sku"),
        ]);
        result.ItemErrors[0].Error.ShouldBe($"A change of -6 would take {H20} in W000 below zero (5 on hand).");
        (await fixture.LevelAsync(distributor, H20, "W000")).OnHand.ShouldBe(5);
        (await fixture.LevelAsync(distributor, H20, "W199")).OnHand.ShouldBe(204);
        var hot = await fixture.LevelAsync(distributor, H100, "SG1");
        (hot.OnHand, hot.Held, hot.ActiveHolds).ShouldBe((15L, 10L, 10L));
        var shortfall = await fixture.Events.WaitForAsync<StockShortfallDetected>(e => e.ReservationId == younger);
        shortfall.UnitsShort.ShouldBe(10);
        fixture.Events.All<StockShortfallDetected>(e => e.ReservationId == older).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_large_update_whose_every_item_is_refused_writes_neither_its_sequence_nor_the_gap_it_skipped()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, Enumerable.Range(0, 200).Select(w => new Stock(H20, $"W{w:D3}", 5)).ToArray());

        // Staged by binary COPY; sequences 2 to 4 skipped; every change would take its level below zero. The sequence and
        // the gap are sent in the merge's round trip, before the service knows that nothing of the update applies.
        using var response = await fixture.PostFeedAsync(distributor, new
        {
            distributorId = distributor,
            sequence = 5,
            kind = "Delta",
            items = Enumerable.Range(0, 200).Select(w => new { sku = H20, warehouse = $"W{w:D3}", quantityChange = -6 }),
        });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var next = await fixture.DeltaAsync(distributor, 2, new Stock(H20, "W000", 1));
        next.Outcome.ShouldBe(StockUpdateOutcome.Applied);
        (next.PreviousSequence, next.GapDetected).ShouldBe((1L, false));
        next.Missing.ShouldBeEmpty();
        (await fixture.LevelAsync(distributor, H20, "W000")).OnHand.ShouldBe(6);
        (await fixture.LevelAsync(distributor, H20, "W199")).OnHand.ShouldBe(5);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("null")]
    public async Task A_rest_snapshot_whose_items_are_missing_or_null_is_a_400_under_items_and_zeroes_nothing(string items)
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40));
        var body = items == "null"
            ? $$"""{"distributorId":"{{distributor}}","sequence":2,"kind":"Snapshot","items":null}"""
            : $$"""{"distributorId":"{{distributor}}","sequence":2,"kind":"Snapshot"}""";

        using var response = await fixture.A.Http.PostAsync(
            $"/v1/distributors/{distributor}/stock-feed", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var empty = await fixture.SnapshotAsync(distributor, 3);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>())!.Errors.ShouldContainKey("items");
        // An explicit empty list still says "nothing in stock", and is applied: the refused update moved nothing.
        (empty.Outcome, empty.PreviousSequence).ShouldBe((StockUpdateOutcome.Applied, 1L));
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_grpc_snapshot_without_items_is_rejected_under_items_unless_it_sets_no_items()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40));
        var unfilled = Update(distributor, 2, UpdateKind.Snapshot);
        var heartbeat = Update(distributor, 3, UpdateKind.Delta);
        var nothing = Update(distributor, 4, UpdateKind.Snapshot);
        nothing.NoItems = true;

        var refused = await PublishGrpcAsync(distributor, unfilled, heartbeat);
        var afterRefusal = await fixture.LevelAsync(distributor, H100, "SG1");
        var meant = await PublishGrpcAsync(distributor, nothing);

        refused.Results.Select(r => r.Outcome).ShouldBe([UpdateOutcome.Rejected, UpdateOutcome.Applied]);
        refused.Results[0].Error.ShouldContain("items is required");
        afterRefusal.OnHand.ShouldBe(40);
        meant.Results.Single().Outcome.ShouldBe(UpdateOutcome.Applied);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task An_amqp_snapshot_without_items_goes_to_the_error_queue_naming_items_and_zeroes_nothing()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(H100, "SG1", 40));
        using var key = await fixture.RegisterFeedKeyAsync(distributor);
        var body = $$"""{"distributorId":"{{distributor}}","sequence":2,"kind":"Snapshot"}""";

        await AmqpPublishAsync(body, AmqpFeed.Sign(key, body));

        var fault = (await Eventually.Latest(() => ErrorQueueAsync(distributor), f => f.Count == 1)).Single();
        fault.Reason.ShouldContain("items is required");
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(40);
    }

    [Fact]
    public async Task A_grpc_update_without_a_kind_is_rejected_in_the_summary()
    {
        var distributor = await fixture.NewDistributorAsync();
        using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor(distributor));
        await call.RequestStream.WriteAsync(Update(distributor, 1, UpdateKind.Unspecified));
        await call.RequestStream.CompleteAsync();

        var summary = await call;

        summary.Results.Single().Outcome.ShouldBe(UpdateOutcome.Rejected);
        summary.Results.Single().Error.ShouldContain("kind");
    }

    [Fact]
    public async Task A_raw_json_update_published_with_amqp_publish_is_applied()
    {
        var distributor = await fixture.NewDistributorAsync();
        var body = JsonSerializer.Serialize(new
        {
            distributorId = distributor,
            sequence = 1,
            kind = "Snapshot",
            items = new[] { new { sku = H20, warehouse = "SH", quantityOnHand = 12, unitPrice = 12000.5m, currency = "USD", leadTimeDays = 5, minimumOrderQuantity = 2 } },
        });

        using var key = await fixture.RegisterFeedKeyAsync(distributor);

        await AmqpPublishAsync(body, AmqpFeed.Sign(key, body));

        var level = await Eventually.Latest(() => fixture.LevelAsync(distributor, H20, "SH"), l => l.OnHand == 12);
        level.OnHand.ShouldBe(12);
    }

    [Fact]
    public async Task A_malformed_amqp_message_goes_to_the_error_queue_with_its_reason()
    {
        var distributor = await fixture.NewDistributorAsync();
        using var key = await fixture.RegisterFeedKeyAsync(distributor);
        var malformed = $"{{\"distributorId\": \"{distributor}\", not json at all";
        await AmqpPublishAsync(malformed, AmqpFeed.Sign(key, malformed));
        await AmqpPublishAsync($"{{\"distributorId\": \"unknown-{distributor}\", \"sequence\": 1, \"kind\": \"Delta\", \"items\": []}}");

        var faults = await Eventually.Latest(() => ErrorQueueAsync(distributor), f => f.Count == 2);

        // Only a body its distributor signed is parsed at all; the unknown one is refused before that.
        faults.ShouldContain(f => f.Payload.Contains("not json") && f.Reason.Contains("not valid JSON", StringComparison.Ordinal));
        faults.ShouldContain(f => f.Reason.Contains("is not registered"));
    }

    [Fact]
    public async Task A_stale_distributor_is_not_offered_and_offers_come_cheapest_first()
    {
        var cheap = await fixture.NewDistributorAsync();
        var dear = await fixture.NewDistributorAsync();
        var stale = await fixture.NewDistributorAsync();
        const string sku = "NVIDIA-RTX-4090D";
        await fixture.SnapshotAsync(dear, 1, new Stock(sku, "SG1", 5, Price: 2100m));
        await fixture.SnapshotAsync(cheap, 1, new Stock(sku, "SG1", 5, Price: 1900m));
        await fixture.SnapshotAsync(stale, 1, new Stock(sku, "SG1", 5, Price: 100m));
        await fixture.ExecuteSqlAsync("UPDATE distributors SET last_feed_at = now() - interval '16 minutes' WHERE id = @id", ("id", stale));

        var offers = await fixture.A.Ledger.GetOffersAsync(new GetOffersRequest { Sku = sku, Quantity = 3 });
        var mine = offers.Offers.Where(o => o.DistributorId == cheap || o.DistributorId == dear || o.DistributorId == stale).ToList();

        mine.Select(o => o.DistributorId).ShouldBe([cheap, dear]);
        mine[0].UnitPrice.ToDecimal().ShouldBe(1900m);
        mine[0].Available.ShouldBe(5);
        var hold = await fixture.A.Ledger.PlaceHoldsAsync(InventoryFixture.PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(5), InventoryFixture.Hold(stale, sku, "SG1", 1)));
        hold.Holds.Single().Held.ShouldBe(0);
    }

    [Fact]
    public async Task Stock_that_appears_publishes_one_stock_available_per_sku_and_update()
    {
        var distributor = await fixture.NewDistributorAsync();
        const string sku = "NVIDIA-RTX-4090";
        await fixture.SnapshotAsync(distributor, 1, new Stock(sku, "A", 3), new Stock(sku, "B", 4));
        var at = DateTimeOffset.UtcNow;
        await fixture.DeltaAsync(distributor, 2, new Stock(sku, "A", 1), new Stock(sku, "B", 1));

        await fixture.Events.WaitForAsync<StockAvailable>(e => e.Sku == sku && e.At >= at);
        await Task.Delay(500);
        fixture.Events.All<StockAvailable>(e => e.Sku == sku && e.At >= at).Count.ShouldBe(1);
    }

    [Fact]
    public async Task The_stock_available_events_of_one_update_are_sent_together_not_one_confirm_wait_after_another()
    {
        string[] skus = [H100, H20, L40S, "NVIDIA-RTX-4090"];
        var sends = new StockAvailableSendsInFlight(skus, DateTimeOffset.UtcNow);
        using var observing = fixture.A.Services.GetRequiredService<IBus>().ConnectSendObserver(sends);
        var distributor = await fixture.NewDistributorAsync();

        await fixture.SnapshotAsync(distributor, 1, skus.Select(sku => new Stock(sku, "A", 5)).ToArray());

        await Eventually.Until(() => Task.FromResult(sends.Confirmed), confirmed => confirmed >= skus.Length, what: "the update's StockAvailable events relayed");
        // A send is over once the broker confirmed it: with the update's events relayed one after another, never two of
        // them would be under way at once.
        sends.MostAtOnceInOneUpdate.ShouldBeGreaterThan(1);
    }

    [Fact]
    public async Task Registering_a_distributor_twice_is_harmless_and_a_different_name_conflicts()
    {
        var id = $"reg-{Guid.NewGuid():N}"[..16];
        using var first = await fixture.A.Http.PostAsJsonAsync("/v1/distributors", new { id, name = "Arrow Asia" });
        using var again = await fixture.A.Http.PostAsJsonAsync("/v1/distributors", new { id, name = "Arrow Asia" });
        using var other = await fixture.A.Http.PostAsJsonAsync("/v1/distributors", new { id, name = "Someone else" });
        using var invalid = await fixture.A.Http.PostAsJsonAsync("/v1/distributors", new { id = "Not Valid!", name = "" });

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        other.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        invalid.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await invalid.Content.ReadFromJsonAsync<ValidationProblemDetails>())!.Errors.Keys.ShouldBe(["id", "name"], ignoreOrder: true);
        var seeded = await fixture.A.Http.GetFromJsonAsync<JsonElement[]>("/v1/distributors");
        seeded!.Select(d => d.GetProperty("id").GetString()).ShouldContain("arrow");
    }

    private async Task<PublishSummary> PublishGrpcAsync(string distributor, params StockUpdate[] updates)
    {
        using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor(distributor));
        foreach (var update in updates)
        {
            await call.RequestStream.WriteAsync(update);
        }

        await call.RequestStream.CompleteAsync();
        return await call;
    }

    private static StockUpdate Update(string distributor, long sequence, UpdateKind kind) =>
        new() { DistributorId = distributor, Sequence = sequence, Kind = kind };

    private Task AmqpPublishAsync(string body, FeedSignatureHeaders? signature = null) => AmqpFeed.PublishAsync(fixture.VirtualHost, body, signature);

    private Task<List<(string Payload, string Reason)>> ErrorQueueAsync(string marker) => AmqpFeed.ErrorQueueAsync(fixture.VirtualHost, marker);
}

/// <summary>
/// The most StockAvailable sends of one update (same instant) for the given SKUs under way at once: begun, neither
/// confirmed nor failed, the first held back until a second begins. Other tests' updates run at the same time on the
/// same host; they have other instants.
/// </summary>
internal sealed class StockAvailableSendsInFlight(string[] skus, DateTimeOffset since) : ISendObserver
{
    private static readonly TimeSpan HoldFirstSendAtMost = TimeSpan.FromSeconds(10);

    private readonly Dictionary<DateTimeOffset, int> current = [];
    private readonly TaskCompletionSource secondBegun = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool holding;
    private int most;
    private int confirmed;

    public int Confirmed => Volatile.Read(ref confirmed);

    public int MostAtOnceInOneUpdate
    {
        get
        {
            lock (current)
            {
                return most;
            }
        }
    }

    public Task PreSend<T>(SendContext<T> context)
        where T : class
    {
        if (Mine(context) is not { } at)
        {
            return Task.CompletedTask;
        }

        lock (current)
        {
            current[at] = current.GetValueOrDefault(at) + 1;
            most = Math.Max(most, current[at]);
            if (most > 1)
            {
                secondBegun.TrySetResult();
            }
            else if (!holding)
            {
                // The first send is held until a second one of its update has begun (or long enough that it would
                // have, had they been sent together): what is observed is then whether the relay starts a send
                // before the previous one is confirmed, not how the machine happened to schedule two quick sends.
                holding = true;
                return Task.WhenAny(secondBegun.Task, Task.Delay(HoldFirstSendAtMost));
            }
        }

        return Task.CompletedTask;
    }

    public Task PostSend<T>(SendContext<T> context)
        where T : class
    {
        if (Mine(context) is not null)
        {
            Interlocked.Increment(ref confirmed);
        }

        return Done(context);
    }

    public Task SendFault<T>(SendContext<T> context, Exception exception)
        where T : class => Done(context);

    private Task Done<T>(SendContext<T> context)
        where T : class
    {
        if (Mine(context) is { } at)
        {
            lock (current)
            {
                current[at]--;
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The relay sends the stored body as it is: the event is read from the serialised envelope.</summary>
    private DateTimeOffset? Mine<T>(SendContext<T> context)
        where T : class
    {
        if (context.DestinationAddress?.AbsolutePath.EndsWith(nameof(StockAvailable), StringComparison.Ordinal) != true || context.Serializer is null)
        {
            return null;
        }

        using var envelope = JsonDocument.Parse(context.Serializer.GetMessageBody(context).GetString());
        var message = envelope.RootElement.GetProperty("message");
        var at = message.GetProperty("at").GetDateTimeOffset();
        return at >= since && skus.Contains(message.GetProperty("sku").GetString()) ? at : null;
    }
}
