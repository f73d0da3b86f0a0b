using System.Text;
using Brokering.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The feeds virtual host's bounds (docs/security.md, "Bounds on the feeds virtual host") as the local recipe sets them (<c>deploy/local/rabbitmq-feeds.sh</c>,
/// <c>rabbitmq-distributor.sh</c>), on the real broker. A distributor's account cannot exhaust the broker that also
/// carries the internal bus: the stock-feed queue refuses publishes once full and keeps what it holds, and a
/// distributor's order account opens a few connections and no more.
/// </summary>
public sealed class FeedBoundsTests : IAsyncLifetime
{
    private const int MaxLength = 3;
    private readonly List<string> users = [];
    private Uri feedsVhost = null!;
    private Uri distributor = null!;
    private Uri inventoryFeeds = null!;

    public async ValueTask InitializeAsync() =>
        (feedsVhost, distributor, inventoryFeeds) = await FeedsRecipe.CreateAsync("brokering-feeds-bounds",
            new Dictionary<string, string> { ["BROKERING_FEED_QUEUE_MAX_LENGTH"] = $"{MaxLength}" });

    public async ValueTask DisposeAsync()
    {
        foreach (var user in users)
        {
            await TestInfrastructure.DeleteUserAsync(user);
        }

        await TestInfrastructure.DeleteVirtualHostAsync(feedsVhost);
    }

    [Fact]
    public async Task A_full_stock_feed_queue_refuses_the_next_publish_to_its_publisher_and_keeps_every_message_it_holds()
    {
        await using var inventory = await FeedsRecipe.ConnectAsync(inventoryFeeds);
        await using var inventoryChannel = await inventory.CreateChannelAsync();
        // As inventory declares it; nobody consumes here, so the queue fills.
        await BusIsolationTests.DeclareFeedQueueAsync(inventoryChannel);

        await using var connection = await FeedsRecipe.ConnectAsync(distributor);
        // With confirmations tracked, a publish returns once the broker accepted it and throws when it refused it.
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var accepted = 0;
        PublishException? refused = null;
        while (refused is null && accepted < 10 * MaxLength)
        {
            try
            {
                await channel.BasicPublishAsync("stock-feed", "", mandatory: true, new BasicProperties(), Body(accepted + 1));
                accepted++;
            }
            catch (PublishException nack)
            {
                refused = nack;
            }
        }

        refused.ShouldNotBeNull("the full queue accepted every publish");
        refused.IsReturn.ShouldBeFalse("a nack from the full queue, not a return for want of a queue");
        // A quorum queue refuses once it is over its limit, so it holds at most one message more.
        accepted.ShouldBeInRange(MaxLength, MaxLength + 1);
        (await inventoryChannel.QueueDeclarePassiveAsync("stock-feed")).MessageCount.ShouldBe((uint)accepted, "what was queued is kept");
        var queued = new List<string>();
        while (await inventoryChannel.BasicGetAsync("stock-feed", autoAck: true) is { } message)
        {
            queued.Add(Encoding.UTF8.GetString(message.Body.Span));
        }

        queued.ShouldBe(Enumerable.Range(1, accepted).Select(sequence => Encoding.UTF8.GetString(Body(sequence))), "every accepted update is there, in order: nothing was dropped");

        // Read by inventory, the queue has room again: the publisher's retry is accepted.
        await channel.BasicPublishAsync("stock-feed", "", mandatory: true, new BasicProperties(), Body(accepted + 1));
    }

    [Fact]
    public async Task A_distributors_order_account_opens_four_connections_and_is_refused_a_fifth()
    {
        var id = $"t-{Guid.NewGuid():N}"[..20];
        users.Add($"distributor-orders-{id}");
        var account = await FeedsRecipe.DistributorAccountAsync(feedsVhost, id);
        var open = new List<IConnection>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var connection = await FeedsRecipe.ConnectAsync(account);
                open.Add(connection);
                await using var channel = await connection.CreateChannelAsync();
            }

            Exception? refused = null;
            try
            {
                var fifth = await FeedsRecipe.ConnectAsync(account);
                open.Add(fifth);
                // RabbitMQ.Client 7 may return before the broker's refusal arrives; it surfaces on first use.
                await using var channel = await fifth.CreateChannelAsync();
            }
            catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException or AlreadyClosedException)
            {
                refused = e;
            }

            refused.ShouldNotBeNull("the broker let a distributor's order account open a fifth connection");
            FeedsRecipe.Flatten(refused).ShouldContain(e => e.Message.Contains("connection limit", StringComparison.Ordinal), refused.ToString());
        }
        finally
        {
            foreach (var connection in open)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static byte[] Body(int sequence) =>
        Encoding.UTF8.GetBytes($"{{\"distributorId\":\"arrow\",\"sequence\":{sequence},\"kind\":\"Delta\",\"items\":[]}}");
}
