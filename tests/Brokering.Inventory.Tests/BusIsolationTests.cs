using System.Text;
using Brokering.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Bus isolation (docs/security.md, "The AMQP stock feed"): the broker itself refuses a distributor's account everywhere but the default exchange of the
/// feeds virtual host. The accounts are made by the recipe operators run (<c>deploy/local/rabbitmq-feeds.sh</c>), on a
/// fresh feeds virtual host per run, so a looser recipe fails these tests. The hostile publishes use RabbitMQ.Client
/// directly, as a distributor would.
/// </summary>
public sealed class BusIsolationTests : IAsyncLifetime
{
    private Uri feedsVhost = null!;
    private Uri distributor = null!;
    private Uri inventoryFeeds = null!;

    public async ValueTask InitializeAsync() =>
        (feedsVhost, distributor, inventoryFeeds) = await FeedsRecipe.CreateAsync("brokering-feeds-test");

    public async ValueTask DisposeAsync() => await TestInfrastructure.DeleteVirtualHostAsync(feedsVhost);

    [Fact]
    public async Task A_distributor_account_publishing_to_the_saga_queue_on_the_internal_virtual_host_is_refused_the_virtual_host()
    {
        // The internal bus (saga queue, event exchanges, the default exchange that routes into them) lives on "/".
        Exception? refused = null;
        try
        {
            // A MassTransit envelope for the saga's queue through the internal default exchange: the hostile publish.
            await using var connection = await FeedsRecipe.ConnectAsync(distributor, virtualHost: "/");
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
            await channel.BasicPublishAsync("", "reservation-state", mandatory: false, new BasicProperties(),
                Encoding.UTF8.GetBytes("{\"messageType\":[\"urn:message:Brokering.Contracts.Inventory:HoldsCommitted\"],\"message\":{}}"));
        }
        catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException)
        {
            refused = e;
        }

        refused.ShouldNotBeNull("the broker let a distributor account into the internal virtual host");
        FeedsRecipe.Flatten(refused).ShouldContain(e => e.Message.Contains("access to vhost '/' refused", StringComparison.Ordinal),
            $"expected the broker to refuse the vhost; got {refused}");
    }

    [Theory]
    [InlineData("", "stock-feed")]
    [InlineData("", "distributor-orders.arrow")]
    [InlineData("amq.topic", "")]
    [InlineData("amq.direct", "stock-feed")]
    [InlineData("amq.fanout", "")]
    [InlineData("stock-feeds", "arrow")]
    [InlineData("Brokering.Contracts.Inventory:HoldsCommitted", "")]
    public async Task The_shared_distributor_account_publishing_to_any_exchange_but_the_shared_stock_feed_one_has_its_channel_closed_with_access_refused(
        string exchange, string routingKey)
    {
        if (exchange.Length > 0 && !exchange.StartsWith("amq.", StringComparison.Ordinal))
        {
            // An event exchange as MassTransit declares it, made by an administrator so that only the permission stops it.
            await using var admin = await FeedsRecipe.ConnectAsync(feedsVhost);
            await using var adminChannel = await admin.CreateChannelAsync();
            await adminChannel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true);
        }

        await using var connection = await FeedsRecipe.ConnectAsync(distributor);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var code = await ReplyCodeOfRefusalAsync(channel, () => channel.BasicPublishAsync(
            exchange, routingKey, mandatory: false, new BasicProperties(), Encoding.UTF8.GetBytes("{\"message\":{}}")).AsTask());
        code.ShouldBe((ushort)403);
    }

    [Fact]
    public async Task A_distributor_can_neither_declare_nor_read_a_queue_on_the_feeds_virtual_host()
    {
        await using var connection = await FeedsRecipe.ConnectAsync(distributor);
        await using (var declare = await connection.CreateChannelAsync())
        {
            (await ReplyCodeOfRefusalAsync(declare, () => declare.QueueDeclareAsync("stock-feed-distributor", durable: true, exclusive: false, autoDelete: false)))
                .ShouldBe((ushort)403);
        }

        await using var admin = await FeedsRecipe.ConnectAsync(inventoryFeeds);
        await using (var adminChannel = await admin.CreateChannelAsync())
        {
            await DeclareFeedQueueAsync(adminChannel);
        }

        await using var read = await connection.CreateChannelAsync();
        (await ReplyCodeOfRefusalAsync(read, () => read.BasicGetAsync("stock-feed", autoAck: true))).ShouldBe((ushort)403);
    }

    [Fact]
    public async Task A_distributor_publishes_through_the_shared_stock_feed_exchange_of_the_feeds_virtual_host_and_inventory_reads_it()
    {
        await using var inventory = await FeedsRecipe.ConnectAsync(inventoryFeeds);
        await using var inventoryChannel = await inventory.CreateChannelAsync();
        await DeclareFeedQueueAsync(inventoryChannel);

        var body = $"{{\"distributorId\":\"arrow\",\"sequence\":1,\"kind\":\"Delta\",\"items\":[],\"nonce\":\"{Guid.NewGuid():N}\"}}";
        await using (var connection = await FeedsRecipe.ConnectAsync(distributor))
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            // With confirmations tracked, the call returns only once the broker has accepted the message.
            await channel.BasicPublishAsync("stock-feed", "", mandatory: true, new BasicProperties(), Encoding.UTF8.GetBytes(body));
        }

        var got = await Eventually.Latest(() => inventoryChannel.BasicGetAsync("stock-feed", autoAck: true), got => got is not null, TimeSpan.FromSeconds(5));

        got.ShouldNotBeNull();
        Encoding.UTF8.GetString(got.Body.Span).ShouldBe(body);
    }

    [Fact]
    public async Task Each_services_own_account_of_the_local_recipe_opens_the_internal_virtual_host_but_not_the_feeds_one_nor_the_management_api()
    {
        var internalVhost = await TestInfrastructure.CreateVirtualHostAsync("brokering-internal-test");
        try
        {
            var accounts = await FeedsRecipe.ServiceAccountsAsync(internalVhost);
            accounts.Keys.ShouldBe(["ordering", "inventory", "compliance"], ignoreOrder: true);
            var management = (await TestInfrastructure.GetSettingsAsync()).RabbitMqManagementUri;
            foreach (var (service, account) in accounts)
            {
                var user = Uri.UnescapeDataString(account.UserInfo.Split(':')[0]);
                user.ShouldBe($"brokering-{service}");
                FeedsRecipe.NameOf(account).ShouldBe(FeedsRecipe.NameOf(internalVhost));

                // What MassTransit does on the internal bus: declare the exchange of a type the service publishes and publish to it.
                var published = OwnEvent[service];
                await using (var connection = await FeedsRecipe.ConnectAsync(account))
                await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
                {
                    await channel.ExchangeDeclareAsync(published, ExchangeType.Fanout, durable: true);
                    await channel.BasicPublishAsync(published, "", mandatory: false, new BasicProperties(), Encoding.UTF8.GetBytes("{}"));
                }

                Exception? refused = null;
                try
                {
                    await using var connection = await FeedsRecipe.ConnectAsync(account, FeedsRecipe.NameOf(feedsVhost));
                    await using var channel = await connection.CreateChannelAsync();
                    await channel.QueueDeclarePassiveAsync("stock-feed");
                }
                catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException)
                {
                    refused = e;
                }

                refused.ShouldNotBeNull($"{service}'s account opened the feeds virtual host");

                // No tags: the management API (users, permissions, every queue's messages) refuses it.
                using var http = new HttpClient();
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
                    "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(account.UserInfo))));
                using var overview = await http.GetAsync(new UriBuilder(management) { UserName = string.Empty, Password = string.Empty, Path = "/api/overview" }.Uri);
                overview.StatusCode.ShouldBe(System.Net.HttpStatusCode.Unauthorized, $"{service}'s account reached the management API");
            }
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(internalVhost);
        }
    }

    [Theory]
    [InlineData("HoldsPlaced")]
    [InlineData("HoldsCommitted")]
    [InlineData("HoldsReleased")]
    [InlineData("HoldsExpired")]
    [InlineData("DistributorOrderPlaced")]
    [InlineData("DistributorOrderRevoked")]
    public async Task Inventorys_own_account_binds_its_webhook_recorder_queue_to_each_hold_and_order_event_and_reads_what_arrives(string type)
    {
        var internalVhost = await TestInfrastructure.CreateVirtualHostAsync("brokering-internal-webhooks");
        try
        {
            var account = (await FeedsRecipe.ServiceAccountsAsync(internalVhost))["inventory"];
            var exchange = $"Brokering.Contracts.Inventory:{type}";
            const string endpoint = "distributor-webhooks";

            // The topology MassTransit declares for the recorder's endpoint, as the account itself: the endpoint's queue and
            // exchange, the message type's exchange bound to it (reading the type's exchange), then a publish and a read.
            await using var connection = await FeedsRecipe.ConnectAsync(account);
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
            await channel.QueueDeclareAsync(endpoint, durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
            await channel.ExchangeDeclareAsync(endpoint, ExchangeType.Fanout, durable: true);
            await channel.QueueBindAsync(endpoint, endpoint, "");
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true);
            await channel.ExchangeBindAsync(endpoint, exchange, "");
            await channel.BasicPublishAsync(exchange, "", mandatory: false, new BasicProperties(), Encoding.UTF8.GetBytes("{}"));

            var read = await Eventually.Latest(() => channel.BasicGetAsync(endpoint, autoAck: true), got => got is not null,
                TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
            read.ShouldNotBeNull($"the {type} published did not reach the recorder's queue");
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(internalVhost);
        }
    }

    /// <summary>One event each service publishes (its account may declare and write its exchange).</summary>
    private static readonly Dictionary<string, string> OwnEvent = new()
    {
        ["ordering"] = "Brokering.Contracts.Ordering:ReservationSubmitted",
        ["inventory"] = "Brokering.Contracts.Inventory:HoldsCommitted",
        ["compliance"] = "Brokering.Contracts.Compliance:CutoffChanged",
    };

    [Theory]
    // Read another service's queue: compliance taking the saga's messages, inventory ordering's commands, ordering compliance's.
    [InlineData("compliance", "read", "reservation-state")]
    [InlineData("inventory", "read", "allocate-reservation")]
    [InlineData("ordering", "read", "reservation-ended")]
    // Publish another service's events or commands.
    [InlineData("compliance", "publish", "Brokering.Contracts.Inventory:HoldsCommitted")]
    [InlineData("compliance", "publish", "Brokering.Contracts.Ordering:ReservationCancellationRequested")]
    [InlineData("inventory", "publish", "Brokering.Contracts.Ordering:ReservationCancellationRequested")]
    [InlineData("inventory", "publish", "Brokering.Contracts.Compliance:PartyListed")]
    [InlineData("ordering", "publish", "Brokering.Contracts.Compliance:CutoffChanged")]
    [InlineData("ordering", "publish", "Brokering.Contracts.Inventory:DistributorOrderPlaced")]
    // Send into another service's endpoint: through its exchange or the default exchange (which routes to any queue by name).
    [InlineData("compliance", "publish", "reservation-state")]
    [InlineData("inventory", "publish", "")]
    [InlineData("compliance", "publish", "")]
    // Declare (or delete) another service's queue.
    [InlineData("compliance", "declare", "reservation-state")]
    public async Task A_services_own_account_is_refused_another_services_queues_and_messages_on_the_internal_virtual_host(
        string service, string action, string target)
    {
        var internalVhost = await TestInfrastructure.CreateVirtualHostAsync("brokering-internal-least");
        try
        {
            var account = (await FeedsRecipe.ServiceAccountsAsync(internalVhost))[service];
            // The topology as the services declare it, made by the administrator so that only the permission stops the account.
            await using (var admin = await FeedsRecipe.ConnectAsync(internalVhost))
            await using (var adminChannel = await admin.CreateChannelAsync())
            {
                foreach (var queue in new[] { "reservation-state", "allocate-reservation", "reservation-ended" })
                {
                    await adminChannel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                        arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
                    await adminChannel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true);
                    await adminChannel.QueueBindAsync(queue, queue, "");
                }

                if (action == "publish" && target.Contains(':', StringComparison.Ordinal))
                {
                    await adminChannel.ExchangeDeclareAsync(target, ExchangeType.Fanout, durable: true);
                }
            }

            await using var connection = await FeedsRecipe.ConnectAsync(account);
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
            var body = Encoding.UTF8.GetBytes("{\"message\":{}}");
            var code = await ReplyCodeOfRefusalAsync(channel, action switch
            {
                "read" => () => channel.BasicGetAsync(target, autoAck: true),
                "declare" => () => channel.QueueDeclareAsync(target, durable: true, exclusive: false, autoDelete: false,
                    arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }),
                _ => () => channel.BasicPublishAsync(target, target.Length == 0 ? "reservation-state" : "", mandatory: false, new BasicProperties(), body).AsTask(),
            });

            code.ShouldBe((ushort)403, $"{service}'s account was not refused to {action} {target}");
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(internalVhost);
        }
    }

    /// <summary>As inventory's feed bus declares the shared queue: with an exchange of its name bound to it (MassTransit's endpoint topology).</summary>
    internal static async Task DeclareFeedQueueAsync(IChannel channel)
    {
        await channel.QueueDeclareAsync("stock-feed", durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
        await channel.ExchangeDeclareAsync("stock-feed", ExchangeType.Fanout, durable: true);
        await channel.QueueBindAsync("stock-feed", "stock-feed", string.Empty);
    }

    /// <summary>The reply code the broker closed the channel with after <paramref name="act"/>; fails if it stayed open.</summary>
    internal static async Task<ushort> ReplyCodeOfRefusalAsync(IChannel channel, Func<Task> act)
    {
        try
        {
            await act();
        }
        catch (OperationInterruptedException interrupted) when (interrupted.ShutdownReason is not null)
        {
            return interrupted.ShutdownReason.ReplyCode;
        }

        // A publish without confirmations returns before the broker answers: wait for the close.
        var closed = await Eventually.Latest(() => Task.FromResult(channel.CloseReason), reason => reason is not null, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
        closed.ShouldNotBeNull("the broker accepted what it should have refused");
        return closed.ReplyCode;
    }
}
