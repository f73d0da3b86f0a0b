using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts;
using Brokering.Contracts.Grpc.Common;
using Brokering.Contracts.Grpc.Inventory;
using Grpc.Core;
using Brokering.Testing;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Numbers out of bounds are refused at the door on every channel, naming the field, and a level stored
/// with one before the door was shut is skipped by the offers path instead of failing every buyer's allocation.
/// </summary>
public sealed class InputBoundsTests(InventoryFixture fixture)
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";

    // Fits numeric(28,9) but not a gRPC int64 units field: the price the review used to break GetOffers.
    private const decimal AbsurdPrice = 9_300_000_000_000_000_000m;

    [Fact]
    public async Task A_rest_snapshot_with_a_unit_price_beyond_the_bound_is_a_400_naming_the_item_field_and_applies_nothing()
    {
        var distributor = await fixture.NewDistributorAsync();

        using var response = await fixture.PostFeedAsync(distributor, Snapshot(distributor, 1, AbsurdPrice));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        var errors = await ErrorsAsync(response);
        errors.ShouldContainKey("items[0].unitPrice");
        (await fixture.LevelAsync(distributor, Sku, "HKG-1")).OnHand.ShouldBe(0);
    }

    [Theory]
    [InlineData("quantityOnHand", 1_000_000_001L)]
    [InlineData("leadTimeDays", 3_651L)]
    [InlineData("minimumOrderQuantity", 1_000_000_001L)]
    public async Task A_rest_snapshot_with_a_count_beyond_its_bound_is_a_400_naming_the_item_field(string field, long value)
    {
        var distributor = await fixture.NewDistributorAsync();
        var item = new Dictionary<string, object>
        {
            ["sku"] = Sku, ["warehouse"] = "HKG-1", ["quantityOnHand"] = 10L, ["unitPrice"] = 31_000m, ["currency"] = "USD",
            ["leadTimeDays"] = 3L, ["minimumOrderQuantity"] = 1L,
        };
        item[field] = value;

        using var response = await fixture.PostFeedAsync(distributor, new { distributorId = distributor, sequence = 1, kind = "Snapshot", items = new[] { item } });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(response)).ShouldContainKey($"items[0].{field}");
    }

    [Fact]
    public async Task A_sequence_beyond_the_bound_is_a_400_naming_sequence_so_no_update_can_freeze_the_feed()
    {
        var distributor = await fixture.NewDistributorAsync();

        using var response = await fixture.PostFeedAsync(distributor, Snapshot(distributor, long.MaxValue, 31_000m));
        using var atTheBound = await fixture.PostFeedAsync(distributor, Snapshot(distributor, InputBounds.MaxSequence, 31_000m));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(response)).ShouldContainKey("sequence");
        atTheBound.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_grpc_unit_price_with_malformed_nanos_is_invalid_argument_naming_the_field_and_applies_nothing()
    {
        var distributor = await fixture.NewDistributorAsync();
        var update = new StockUpdate { DistributorId = distributor, Sequence = 1, Kind = UpdateKind.Snapshot };
        update.Items.Add(new StockItem
        {
            Sku = Sku, Warehouse = "HKG-1", QuantityOnHand = 10, Currency = "USD",
            UnitPrice = new DecimalValue { Units = 31_000, Nanos = 2_000_000_000 },
        });

        using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor(distributor), cancellationToken: TestContext.Current.CancellationToken);
        var refusal = await Should.ThrowAsync<RpcException>(async () =>
        {
            await call.RequestStream.WriteAsync(update, TestContext.Current.CancellationToken);
            await call.RequestStream.CompleteAsync();
            await call;
        });

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("items[0].unit_price.nanos");
        (await fixture.LevelAsync(distributor, Sku, "HKG-1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_grpc_unit_price_beyond_the_bound_is_rejected_in_the_summary_naming_the_item_field()
    {
        var distributor = await fixture.NewDistributorAsync();
        var update = new StockUpdate { DistributorId = distributor, Sequence = 1, Kind = UpdateKind.Snapshot };
        update.Items.Add(new StockItem
        {
            Sku = Sku, Warehouse = "HKG-1", QuantityOnHand = 10, Currency = "USD",
            UnitPrice = new DecimalValue { Units = long.MaxValue },
        });

        using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor(distributor), cancellationToken: TestContext.Current.CancellationToken);
        await call.RequestStream.WriteAsync(update, TestContext.Current.CancellationToken);
        await call.RequestStream.CompleteAsync();
        var summary = await call;

        summary.Results.Single().Outcome.ShouldBe(UpdateOutcome.Rejected);
        summary.Results.Single().ItemErrors.Single().Field.ShouldBe("items[0].unitPrice");
        (await fixture.LevelAsync(distributor, Sku, "HKG-1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_signed_amqp_snapshot_with_a_unit_price_beyond_the_bound_is_dead_lettered_naming_the_field_and_applies_nothing()
    {
        var distributor = await fixture.NewDistributorAsync();
        using var key = await fixture.RegisterFeedKeyAsync(distributor);
        var body = JsonSerializer.Serialize(Snapshot(distributor, 1, AbsurdPrice), InventoryFixture.Json);

        await AmqpFeed.PublishAsync(fixture.VirtualHost, body, AmqpFeed.Sign(key, body));

        var refused = await Eventually.Latest(() => AmqpFeed.ErrorQueueAsync(fixture.VirtualHost, distributor), f => f.Count == 1);
        refused.Single().Reason.ShouldContain("items[0].unitPrice");
        (await fixture.LevelAsync(distributor, Sku, "HKG-1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_level_stored_with_an_absurd_price_is_skipped_by_get_offers_and_the_other_distributors_offer_is_still_served()
    {
        var absurd = await fixture.NewDistributorAsync();
        var sane = await fixture.NewDistributorAsync();
        const string sku = Sku;
        await fixture.SnapshotAsync(absurd, 1, new Stock(sku, "HKG-1", 100, 31_000m));
        await fixture.SnapshotAsync(sane, 1, new Stock(sku, "SIN-1", 40, 32_000m));
        // As a row accepted before the feed bounded prices would be.
        await fixture.ExecuteSqlAsync("UPDATE stock_levels SET unit_price = @price WHERE distributor_id = @d", ("price", AbsurdPrice), ("d", absurd));

        var offers = await fixture.A.Ledger.GetOffersAsync(new GetOffersRequest { Sku = sku, Quantity = 40 }, cancellationToken: TestContext.Current.CancellationToken);
        using var rest = await fixture.A.Http.GetAsync($"/v1/skus/{sku}/offers", TestContext.Current.CancellationToken);

        // Other tests publish the same SKU: only these two distributors' offers matter here.
        var ours = offers.Offers.Where(o => o.DistributorId == absurd || o.DistributorId == sane).ToList();
        ours.Select(o => o.DistributorId).ShouldBe([sane]);
        ((decimal)ours.Single().UnitPrice).ShouldBe(32_000m);
        rest.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await rest.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).ShouldNotContain(absurd);
    }

    [Fact]
    public async Task A_distributor_registered_with_a_nul_in_its_name_is_a_400_naming_the_name_and_is_not_registered()
    {
        var id = $"text-{Guid.NewGuid():N}"[..20];

        using var response = await fixture.A.Http.PostAsJsonAsync("/v1/distributors", new { id, name = "Arrow\0 Asia" }, TestContext.Current.CancellationToken);
        using var lookup = await fixture.A.Http.GetAsync(new Uri($"/v1/distributors/{id}", UriKind.Relative), TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(response)).ShouldContainKey("name");
        lookup.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("description", "https://example.com/hook", "night\0shift")]
    [InlineData("url", "https://example.com/ho\0ok", "night shift")]
    public async Task A_distributor_webhook_subscription_with_a_nul_in_its_url_or_description_is_a_400_naming_the_field(string field, string url, string description)
    {
        var distributor = await fixture.NewDistributorAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/distributor/webhooks/subscriptions")
        {
            Content = JsonContent.Create(new { url, eventTypes = HoldsPlaced, description }),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestTokens.Distributor(distributor));

        using var response = await fixture.A.Http.SendAsync(request, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(response)).ShouldContainKey(field);
    }

    private static readonly string[] HoldsPlaced = ["holds.placed"];

    private static object Snapshot(string distributor, long sequence, decimal price) => new
    {
        distributorId = distributor,
        sequence,
        kind = "Snapshot",
        items = new[] { new { sku = Sku, warehouse = "HKG-1", quantityOnHand = 100, unitPrice = price, currency = "USD", leadTimeDays = 3, minimumOrderQuantity = 1 } },
    };

    private static async Task<Dictionary<string, string[]>> ErrorsAsync(HttpResponseMessage response)
    {
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        return problem.GetProperty("errors").Deserialize<Dictionary<string, string[]>>()!;
    }
}

/// <summary>A SKU enters inventory in its one canonical spelling: a feed and an offers query agree whatever their case or padding.</summary>
public sealed class SkuSpellingTests(InventoryFixture fixture)
{
    [Fact]
    public async Task A_feed_item_spelled_in_lower_case_with_padding_lands_on_the_catalogue_sku_and_is_offered_for_any_spelling()
    {
        var distributor = await fixture.NewDistributorAsync();

        await fixture.SnapshotAsync(distributor, 1, new Stock(" nvidia-l40s ", "SG1", 7));
        var offers = await fixture.A.Ledger.GetOffersAsync(new GetOffersRequest { Sku = "Nvidia-L40S", Quantity = 1 }, cancellationToken: TestContext.Current.CancellationToken);

        (await fixture.LevelAsync(distributor, "NVIDIA-L40S", "SG1")).OnHand.ShouldBe(7);
        offers.Offers.ShouldContain(o => o.DistributorId == distributor && o.Available == 7);
    }

    [Fact]
    public async Task A_snapshot_item_that_is_invalid_keeps_the_level_it_names_in_any_spelling()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock("NVIDIA-L4", "SG1", 5), new Stock("NVIDIA-L40S", "SG1", 3));

        await fixture.SnapshotAsync(distributor, 2, new Stock(" nvidia-l4 ", "SG1", -1), new Stock("NVIDIA-L40S", "SG1", 4));

        (await fixture.LevelAsync(distributor, "NVIDIA-L4", "SG1")).OnHand.ShouldBe(5);
        (await fixture.LevelAsync(distributor, "NVIDIA-L40S", "SG1")).OnHand.ShouldBe(4);
    }

    [Fact]
    public async Task A_feed_item_whose_sku_has_a_look_alike_letter_is_an_item_error_naming_the_sku()
    {
        var distributor = await fixture.NewDistributorAsync();

        using var response = await fixture.PostFeedAsync(distributor, new
        {
            distributorId = distributor,
            sequence = 1,
            kind = "Snapshot",
            items = new[] { new { sku = "NVIDIA-L40Ѕ", warehouse = "SG1", quantityOnHand = 7, unitPrice = 1000m, currency = "USD" } },
        });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        problem.GetProperty("errors").TryGetProperty("items[0].sku", out _).ShouldBeTrue();
    }
}
