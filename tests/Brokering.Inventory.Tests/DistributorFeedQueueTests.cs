using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Brokering.Inventory.Offers;
using Brokering.Inventory.StockFeeds;
using Brokering.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Hostile tenants on the AMQP feed (docs/inventory.md, "Each distributor's own feed queue"): each distributor with a feed key publishes to its own queue
/// <c>stock-feed.{id}.updates</c> through the <c>stock-feeds</c> topic exchange, with its own account
/// (<c>deploy/local/rabbitmq-distributor.sh</c>), which may use its own id as routing key and nothing else; inventory
/// reads every such queue on one channel. The replica has its own database and runs on the local recipe's accounts,
/// with small queue bounds so a flood reaches them quickly.
/// </summary>
public sealed class DistributorFeedQueueTests : IAsyncLifetime
{
    private const string Sku = "NVIDIA-L40S";
    private const int MaxLength = 20;
    private const int RegisteredWithoutFeed = 600;

    private FeedsReplica replica = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() =>
        replica = await FeedsReplica.CreateAsync("feed-queues", new Dictionary<string, string> { ["BROKERING_FEED_QUEUE_MAX_LENGTH"] = $"{MaxLength}" },
            Rescanning(TimeSpan.FromSeconds(1)));

    public ValueTask DisposeAsync() => replica.DisposeAsync();

    private static Dictionary<string, string> Rescanning(TimeSpan interval) => new() { ["Inventory:FeedQueueRescanInterval"] = interval.ToString() };

    [Fact]
    public async Task A_distributor_flooding_its_own_feed_queue_to_its_bound_does_not_delay_another_distributors_amqp_update()
    {
        var flooder = await RegisterAsync();
        var other = await RegisterAsync();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var refusedToFlooder = 0;
        var flood = Task.Run(async () =>
        {
            await using var connection = await FeedsRecipe.ConnectAsync(flooder.Account);
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), stop.Token);
            var junk = Encoding.UTF8.GetBytes($$"""{"distributorId":"{{flooder.Id}}","sequence":1,"kind":"Delta","items":[]}""");
            while (!stop.IsCancellationRequested)
            {
                // Many publishes in flight at once, so the flood outruns inventory reading the queue down.
                var batch = Enumerable.Range(0, 64)
                    .Select(_ => channel.BasicPublishAsync(DistributorFeedQueues.Exchange, flooder.Id, mandatory: true, new BasicProperties(), junk).AsTask())
                    .ToList();
                foreach (var publish in batch)
                {
                    try
                    {
                        await publish;
                    }
                    catch (PublishException nack) when (!nack.IsReturn)
                    {
                        Interlocked.Increment(ref refusedToFlooder);
                    }
                }
            }
        }, Cancel);

        // The broker refuses the flooder's publishes only once its queue is at its bound.
        await Eventually.Until(() => Task.FromResult(flood.IsCompleted || Volatile.Read(ref refusedToFlooder) > 0),
            "the flooder's own queue to refuse its publishes", TimeSpan.FromMinutes(1));
        flood.IsCompleted.ShouldBeFalse($"the flood stopped: {flood.Exception}");
        var refusedBefore = Volatile.Read(ref refusedToFlooder);

        var body = Snapshot(other.Id, 1, 41);
        // Returns once the broker has confirmed it; a full shared queue would nack it here.
        await PublishAsync(other.Account, other.Id, body, AmqpFeed.Sign(other.Key, body));
        var offers = await Eventually.Latest(() => OffersAsync(other.Id), o => o.Count == 1, TimeSpan.FromSeconds(30));
        var refusedAfter = Volatile.Read(ref refusedToFlooder);
        await stop.CancelAsync();
        await flood;

        offers.ShouldHaveSingleItem().Available.ShouldBe(41, "the other distributor's update is applied while the flood goes on");
        refusedAfter.ShouldBeGreaterThan(refusedBefore, "the flooder's queue was still full while the other's update went through");
    }

    [Theory]
    [InlineData("the other's routing key on stock-feeds")]
    [InlineData("its own routing key with more after it on stock-feeds")]
    [InlineData("the other's queue name on the default exchange")]
    [InlineData("an exchange named after the other's queue")]
    [InlineData("the other's error queue on the default exchange")]
    [InlineData("the shared stock-feed exchange")]
    [InlineData("the distributor-orders exchange")]
    [InlineData("amq.topic")]
    public async Task A_distributors_account_is_refused_publishing_anywhere_but_its_own_routing_key_on_stock_feeds(string way)
    {
        var mine = await RegisterAsync();
        var other = await RegisterAsync();
        var body = Snapshot(other.Id, 1, 1000);
        var (exchange, routingKey) = way switch
        {
            "the other's routing key on stock-feeds" => (DistributorFeedQueues.Exchange, other.Id),
            "its own routing key with more after it on stock-feeds" => (DistributorFeedQueues.Exchange, $"{mine.Id}.{other.Id}"),
            "the other's queue name on the default exchange" => ("", DistributorFeedQueues.QueueOf(other.Id)),
            "an exchange named after the other's queue" => (DistributorFeedQueues.QueueOf(other.Id), other.Id),
            "the other's error queue on the default exchange" => ("", DistributorFeedQueues.QueueOf(other.Id) + "_error"),
            "the shared stock-feed exchange" => ("stock-feed", ""),
            "the distributor-orders exchange" => ("distributor-orders", other.Id),
            _ => ("amq.topic", other.Id),
        };

        await using var connection = await FeedsRecipe.ConnectAsync(mine.Account);
        await using (var own = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), Cancel))
        {
            // The account can publish: to its own queue.
            await own.BasicPublishAsync(DistributorFeedQueues.Exchange, mine.Id, mandatory: true, new BasicProperties(), Encoding.UTF8.GetBytes("{}"), Cancel);
        }

        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), Cancel);
        var code = await BusIsolationTests.ReplyCodeOfRefusalAsync(channel, () => channel.BasicPublishAsync(
            exchange, routingKey, mandatory: false, new BasicProperties(), Encoding.UTF8.GetBytes(body)).AsTask());

        code.ShouldBe((ushort)403, "ACCESS_REFUSED");
        (await TestInfrastructure.QueueExistsAsync(replica.FeedsVhost, DistributorFeedQueues.QueueOf(other.Id), Cancel)).ShouldBeTrue("the other's queue exists");
    }

    [Fact]
    public async Task Registering_a_distributor_without_a_feed_key_declares_no_feed_queue_for_it()
    {
        var id = NewId();
        using (var response = await replica.Inventory.Http.PostAsJsonAsync("/v1/distributors", new { id, name = $"Test distributor {id}" }, Cancel))
        {
            response.EnsureSuccessStatusCode();
        }

        // Long enough for the replica's rescans (every second here) to have found it, were it a candidate.
        await Task.Delay(TimeSpan.FromSeconds(3), Cancel);

        (await TestInfrastructure.QueueExistsAsync(replica.FeedsVhost, DistributorFeedQueues.QueueOf(id), Cancel)).ShouldBeFalse();
    }

    [Fact]
    public async Task A_distributor_whose_feed_key_is_set_while_inventory_runs_can_publish_as_soon_as_the_call_returns_and_has_its_update_read()
    {
        var registered = await RegisterAsync();
        var body = Snapshot(registered.Id, 1, 23);

        await PublishAsync(registered.Account, registered.Id, body, AmqpFeed.Sign(registered.Key, body));

        var offers = await Eventually.Latest(() => OffersAsync(registered.Id), o => o.Count == 1, TimeSpan.FromSeconds(30));
        offers.ShouldHaveSingleItem().Available.ShouldBe(23);
    }

    [Fact]
    public async Task A_distributor_whose_feed_key_was_set_through_another_replica_has_its_own_feed_read_within_the_rescan_interval()
    {
        var id = NewId();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // As another replica's registration and PUT feed-key write them: this replica serves no request for it.
        await InsertDistributorsAsync([id], key);

        await Eventually.Until(() => TestInfrastructure.QueueExistsAsync(replica.FeedsVhost, DistributorFeedQueues.QueueOf(id), Cancel),
            $"{DistributorFeedQueues.QueueOf(id)} to be declared", TimeSpan.FromSeconds(30));
        var account = await AccountAsync(id);
        var body = Snapshot(id, 1, 29);
        await PublishAsync(account, id, body, AmqpFeed.Sign(key, body));

        var offers = await Eventually.Latest(() => OffersAsync(id), o => o.Count == 1, TimeSpan.FromSeconds(30));
        offers.ShouldHaveSingleItem().Available.ShouldBe(29);
    }

    [Fact]
    public async Task An_update_signed_by_another_distributor_on_a_distributors_own_queue_is_moved_to_its_error_queue_and_never_applied()
    {
        var carrier = await RegisterAsync();
        var signer = await RegisterAsync();
        // The signer's own, valid update, as the carrier might have captured it.
        var body = Snapshot(signer.Id, 1, 77);

        await PublishAsync(carrier.Account, carrier.Id, body, AmqpFeed.Sign(signer.Key, body));

        var refused = await Eventually.Latest(
            () => AmqpFeed.ErrorQueueAsync(replica.FeedsVhost, signer.Id, DistributorFeedQueues.QueueOf(carrier.Id) + "_error"), f => f.Count == 1, TimeSpan.FromSeconds(30));
        refused.ShouldHaveSingleItem().Reason.ShouldContain("(OtherDistributorsQueue)");
        (await OffersAsync(signer.Id)).ShouldBeEmpty();
        using var distributor = await replica.Inventory.Http.GetAsync($"/v1/distributors/{signer.Id}", Cancel);
        (await distributor.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("lastSequence").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task Inventory_restarting_among_many_distributors_without_an_amqp_feed_consumes_only_the_keyed_ones_and_applies_their_updates()
    {
        await replica.StopInventoryAsync();
        var withoutFeed = Enumerable.Range(0, RegisteredWithoutFeed).Select(_ => NewId()).ToList();
        await InsertDistributorsAsync(withoutFeed, key: null);
        var keyedBefore = NewId();
        using var keyBefore = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await InsertDistributorsAsync([keyedBefore], keyBefore);

        // No rescan during the test: whatever is consumed was found at start or opened by a call.
        await replica.StartInventoryAsync(Rescanning(TimeSpan.FromHours(1)));

        await Eventually.Until(async () => (await TestInfrastructure.ListQueuesAsync(replica.FeedsVhost, Cancel)).GetValueOrDefault(DistributorFeedQueues.QueueOf(keyedBefore)) == 1,
            $"{DistributorFeedQueues.QueueOf(keyedBefore)} to be consumed after the start", TimeSpan.FromMinutes(1));
        var before = Snapshot(keyedBefore, 1, 61);
        await PublishAsync(await AccountAsync(keyedBefore), keyedBefore, before, AmqpFeed.Sign(keyBefore, before));
        var keyedAfter = await RegisterAsync();
        var after = Snapshot(keyedAfter.Id, 1, 62);
        await PublishAsync(keyedAfter.Account, keyedAfter.Id, after, AmqpFeed.Sign(keyedAfter.Key, after));

        (await Eventually.Latest(() => OffersAsync(keyedBefore), o => o.Count == 1, TimeSpan.FromSeconds(30))).ShouldHaveSingleItem().Available.ShouldBe(61);
        (await Eventually.Latest(() => OffersAsync(keyedAfter.Id), o => o.Count == 1, TimeSpan.FromSeconds(30))).ShouldHaveSingleItem().Available.ShouldBe(62);
        var queues = await TestInfrastructure.ListQueuesAsync(replica.FeedsVhost, Cancel);
        withoutFeed.Where(id => queues.ContainsKey(DistributorFeedQueues.QueueOf(id))).ShouldBeEmpty("a distributor without a feed key has no feed queue");
    }

    private static string NewId() => $"t-{Guid.NewGuid():N}"[..20];

    /// <summary>Registers distributors as another replica would (in the database only), with <paramref name="key"/> as their feed key.</summary>
    private async Task InsertDistributorsAsync(IReadOnlyList<string> ids, ECDsa? key)
    {
        await using var connection = new Npgsql.NpgsqlConnection(replica.Database);
        await connection.OpenAsync(Cancel);
        await using var insert = new Npgsql.NpgsqlCommand(
            "INSERT INTO distributors (id, name, last_sequence, gap_open, created_at, feed_public_key) SELECT id, id, 0, false, now(), @key FROM unnest(@ids) AS id",
            connection);
        insert.Parameters.AddWithValue("ids", ids.ToArray());
        insert.Parameters.Add(new Npgsql.NpgsqlParameter("key", NpgsqlTypes.NpgsqlDbType.Bytea) { Value = (object?)key?.ExportSubjectPublicKeyInfo() ?? DBNull.Value });
        await insert.ExecuteNonQueryAsync(Cancel);
    }

    private Task<Uri> AccountAsync(string id) => replica.DistributorAccountAsync(id);

    private async Task<(string Id, Uri Account, ECDsa Key)> RegisterAsync()
    {
        var id = NewId();
        using (var response = await replica.Inventory.Http.PostAsJsonAsync("/v1/distributors", new { id, name = $"Test distributor {id}" }, Cancel))
        {
            response.EnsureSuccessStatusCode();
        }

        var (account, key) = await AccountAndKeyAsync(id);
        return (id, account, key);
    }

    private async Task<(Uri Account, ECDsa Key)> AccountAndKeyAsync(string id)
    {
        var account = await AccountAsync(id);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/distributors/{id}/feed-key")
        {
            Content = JsonContent.Create(new { publicKey = key.ExportSubjectPublicKeyInfoPem() }),
        };
        using var response = await replica.Inventory.Http.SendAsync(request, Cancel);
        response.EnsureSuccessStatusCode();
        return (account, key);
    }

    /// <summary>Publishes with the distributor's own account to the stock-feeds exchange; returns once the broker confirmed it.</summary>
    private static async Task PublishAsync(Uri account, string routingKey, string body, FeedSignatureHeaders signature)
    {
        await using var connection = await FeedsRecipe.ConnectAsync(account);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), Cancel);
        var properties = new BasicProperties
        {
            ContentType = "application/json",
            DeliveryMode = DeliveryModes.Persistent,
            Headers = new Dictionary<string, object?> { ["Feed-Signed-At"] = signature.SignedAt, ["Feed-Signature"] = signature.Signature },
        };
        await channel.BasicPublishAsync(DistributorFeedQueues.Exchange, routingKey, mandatory: true, properties, Encoding.UTF8.GetBytes(body), Cancel);
    }

    private async Task<List<OfferView>> OffersAsync(string distributorId)
    {
        using var response = await replica.Inventory.Http.GetAsync($"/v1/skus/{Sku}/offers", Cancel);
        response.EnsureSuccessStatusCode();
        var offers = await response.Content.ReadFromJsonAsync<List<OfferView>>(InventoryFixture.Json, Cancel) ?? [];
        return [.. offers.Where(o => o.DistributorId == distributorId)];
    }

    private static string Snapshot(string distributor, long sequence, long quantity) => JsonSerializer.Serialize(new
    {
        distributorId = distributor,
        sequence,
        kind = "Snapshot",
        items = new[] { new { sku = Sku, warehouse = "SG1", quantityOnHand = quantity, unitPrice = 9000m, currency = "USD", leadTimeDays = 5, minimumOrderQuantity = 1 } },
    });
}
