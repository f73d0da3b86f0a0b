using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Brokering.Inventory.Offers;
using Brokering.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Bus isolation end to end (docs/inventory.md, "Where the AMQP feed is read"): an inventory replica configured with a feeds connection
/// (<c>ConnectionStrings:RabbitMqFeeds</c>, inventory's own account from <c>deploy/local/rabbitmq-feeds.sh</c>) reads the
/// stock feed from the feeds virtual host and nowhere else, and a distributor publishing there with its own account
/// reaches the ledger only with a signed update. The replica's internal bus is a virtual host of its own, which the
/// distributor's account cannot open; the replica connects to it with the local recipe's inventory account
/// (<c>deploy/local/rabbitmq-services.sh</c>), so these tests also prove that account is enough to run on.
/// </summary>
public sealed class FeedVirtualHostTests(InventoryFixture fixture) : IAsyncLifetime
{
    private const string Sku = "NVIDIA-H20";
    private const int MaxBytes = 2048;

    private Uri internalVhost = null!;
    private Uri feedsVhost = null!;
    private Uri distributor = null!;
    private InventoryHost replica = null!;

    public async ValueTask InitializeAsync()
    {
        internalVhost = await TestInfrastructure.CreateVirtualHostAsync("inventory-internal", TestContext.Current.CancellationToken);
        Uri inventoryFeeds;
        (feedsVhost, distributor, inventoryFeeds) = await FeedsRecipe.CreateAsync("brokering-feeds-inventory");
        // Both of inventory's connections use the local recipe's accounts: its own on the internal bus, its feeds one.
        var inventory = (await FeedsRecipe.ServiceAccountsAsync(internalVhost))["inventory"];
        replica = await fixture.StartReplicaAsync(inventory, new Dictionary<string, string>
        {
            ["ConnectionStrings:RabbitMqFeeds"] = inventoryFeeds.ToString(),
            ["Inventory:FeedMaxBytes"] = MaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await replica.DisposeAsync();
        await TestInfrastructure.DeleteVirtualHostAsync(internalVhost, CancellationToken.None);
        await TestInfrastructure.DeleteVirtualHostAsync(feedsVhost, CancellationToken.None);
    }

    [Fact]
    public async Task A_signed_update_a_distributor_publishes_with_its_own_account_on_the_feeds_virtual_host_is_offered_by_inventory()
    {
        var (id, key) = await DistributorWithKeyAsync();
        var body = Snapshot(id, 1, 37);

        await AmqpFeed.PublishAsync(distributor, body, AmqpFeed.Sign(key, body));

        var offers = await Eventually.Latest(() => OffersAsync(id), o => o.Count == 1);
        offers.ShouldHaveSingleItem().Available.ShouldBe(37);
        (await fixture.LevelAsync(id, Sku, "SG1")).OnHand.ShouldBe(37);
    }

    [Theory]
    [InlineData("unsigned", "(Unsigned)")]
    [InlineData("forged", "(BadSignature)")]
    [InlineData("oversized", "(TooLarge)")]
    [InlineData("redelivered", "(DeliveryLimit)")]
    public async Task An_update_on_the_feeds_virtual_host_that_is_not_the_distributors_own_is_moved_to_its_error_queue_and_never_reaches_the_ledger(
        string kind, string reason)
    {
        var (id, key) = await DistributorWithKeyAsync();
        using var mallory = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var body = Snapshot(id, 1, 50, padding: kind == "oversized" ? new string(' ', MaxBytes) : string.Empty);

        var published = kind switch
        {
            "unsigned" => AmqpFeed.PublishAsync(distributor, body, signature: null),
            "forged" => AmqpFeed.PublishAsync(distributor, body, AmqpFeed.Sign(mallory, body)),
            "oversized" => AmqpFeed.PublishAsync(distributor, body, AmqpFeed.Sign(key, body)),
            // As the quorum queue counts a message that crashed its consumer up to the limit (5).
            _ => AmqpFeed.PublishAsync(distributor, body, AmqpFeed.Sign(key, body), "x-delivery-count: 5"),
        };
        await published;

        var refused = await Eventually.Latest(() => AmqpFeed.ErrorQueueAsync(feedsVhost, id), f => f.Count == 1);
        refused.ShouldHaveSingleItem().Reason.ShouldContain(reason);
        (await fixture.LevelAsync(id, Sku, "SG1")).OnHand.ShouldBe(0);
        (await OffersAsync(id)).ShouldBeEmpty();
    }

    [Fact]
    public async Task With_a_feeds_connection_inventory_has_no_stock_feed_queue_on_its_internal_virtual_host()
    {
        // The replica is ready (its buses started) and consumes on the feeds virtual host, as the tests above show.
        (await TestInfrastructure.QueueExistsAsync(feedsVhost, "stock-feed", TestContext.Current.CancellationToken)).ShouldBeTrue();
        (await TestInfrastructure.QueueExistsAsync(internalVhost, "stock-feed", TestContext.Current.CancellationToken)).ShouldBeFalse();
    }

    [Fact]
    public async Task The_distributors_account_is_refused_by_the_internal_virtual_host_inventory_runs_on()
    {
        var vhost = FeedsRecipe.NameOf(internalVhost);
        Exception? refused = null;
        try
        {
            await using var connection = await FeedsRecipe.ConnectAsync(distributor, vhost);
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
            await channel.BasicPublishAsync("", "stock-feed", mandatory: false, new BasicProperties(), Encoding.UTF8.GetBytes("{}"));
        }
        catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException)
        {
            refused = e;
        }

        refused.ShouldNotBeNull("the broker let the distributor's account into inventory's internal virtual host");
        FeedsRecipe.Flatten(refused).ShouldContain(e => e.Message.Contains($"access to vhost '{vhost}' refused", StringComparison.Ordinal),
            $"expected the broker to refuse the vhost; got {refused}");
    }

    private async Task<List<OfferView>> OffersAsync(string distributorId)
    {
        using var response = await replica.Http.GetAsync($"/v1/skus/{Sku}/offers", TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        var offers = await response.Content.ReadFromJsonAsync<List<OfferView>>(InventoryFixture.Json, TestContext.Current.CancellationToken) ?? [];
        return offers.Where(o => o.DistributorId == distributorId).ToList();
    }

    private async Task<(string Distributor, ECDsa Key)> DistributorWithKeyAsync()
    {
        var id = await fixture.NewDistributorAsync();
        return (id, await fixture.RegisterFeedKeyAsync(id));
    }

    private static string Snapshot(string distributor, long sequence, long quantity, string padding = "") => JsonSerializer.Serialize(new
    {
        distributorId = distributor,
        sequence,
        kind = "Snapshot",
        items = new[] { new { sku = Sku, warehouse = "SG1", quantityOnHand = quantity, unitPrice = 12000m, currency = "USD", leadTimeDays = 5, minimumOrderQuantity = 1 } },
        note = padding,
    });
}
