using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Brokering.Client.Amqp;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using static Brokering.Inventory.Tests.InventoryFixture;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Distributor order notices on the distributor's own AMQP queue (docs/inventory.md, "Order notices (events)"), and
/// their isolation (docs/security.md, "Distributors' order queues"): an
/// inventory replica with a feeds connection relays each order notice to <c>distributor-orders.{id}</c> on the feeds
/// virtual host, and each distributor's own account (<c>deploy/local/rabbitmq-distributor.sh</c>) reads that queue
/// and nothing else. The replica has a database and an internal virtual host of its own (the notices are relayed from
/// its outbox, which another replica on a shared database could deliver to another virtual host) and connects with the
/// local recipe's accounts, so these tests also prove those accounts are enough.
/// </summary>
public sealed class DistributorOrderQueueTests : IAsyncLifetime
{
    private const string A800 = "NVIDIA-A800-SXM4-80GB";
    private const string H800 = "NVIDIA-H800-SXM5-80GB";

    private FeedsReplica replica = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => replica = await FeedsReplica.CreateAsync("order-queues");

    public ValueTask DisposeAsync() => replica.DisposeAsync();

    [Fact]
    public async Task A_committed_order_arrives_on_the_distributors_own_queue_with_the_lines_its_orders_list_shows()
    {
        var (mine, myAccount) = await RegisterAsync();
        var (other, otherAccount) = await RegisterAsync();
        await SnapshotAsync(mine, new Stock(A800, "SG1", 50, Price: 9000m), new Stock(H800, "HK", 50, Price: 25000m));
        await SnapshotAsync(other, new Stock(A800, "SG1", 50, Price: 9100m));
        var reservation = Guid.NewGuid();
        // The queue was declared at registration: the notice waits there though no ERP has connected yet.
        await replica.Inventory.PlaceInFullAsync(reservation, "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, H800, "HK", 2), Hold(mine, A800, "SG1", 5), Hold(other, A800, "SG1", 7));
        await replica.Inventory.CommitAsync(reservation);

        var notice = await NextNoticeAsync(myAccount, mine);
        var toOther = await NextNoticeAsync(otherAccount, other);

        notice.Type.ShouldBe("DistributorOrderPlaced");
        notice.Body.GetProperty("reservationId").GetGuid().ShouldBe(reservation);
        notice.Body.GetProperty("distributorId").GetString().ShouldBe(mine);
        var listed = (await OrdersAsync(mine)).ShouldHaveSingleItem();
        notice.Body.GetProperty("buyerOrganisation").GetString().ShouldBe("acme-servers");
        notice.Body.GetProperty("committedAt").GetDateTimeOffset().ShouldBe(listed.GetProperty("committedAt").GetDateTimeOffset());
        notice.Body.GetProperty("units").GetInt64().ShouldBe(listed.GetProperty("units").GetInt64());
        Lines(notice.Body).ShouldBe(Lines(listed));
        Lines(notice.Body).Select(l => (l.Sku, l.Units)).ShouldBe([(A800, 5L), (H800, 2L)]);
        notice.MessageId.ShouldNotBeNullOrEmpty();
        notice.UserId.ShouldBe("brokering-inventory-feeds", "only inventory's account may publish with its user-id");
        Lines(toOther.Body).Select(l => (l.Sku, l.Units)).ShouldBe([(A800, 7L)], "the other distributor's queue has only its own lines");
        (await NextNoticeOrNullAsync(myAccount, mine)).ShouldBeNull("one order, one notice");
    }

    [Fact]
    public async Task A_revoked_order_arrives_on_the_distributors_queue_as_a_revocation_of_the_order_announced()
    {
        var (mine, myAccount) = await RegisterAsync();
        await SnapshotAsync(mine, new Stock(A800, "SG1", 50));
        var reservation = Guid.NewGuid();
        await replica.Inventory.PlaceInFullAsync(reservation, "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 5));
        var commit = await replica.Inventory.CommitAsync(reservation);
        var placed = await NextNoticeAsync(myAccount, mine);

        await replica.Inventory.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest
        {
            ReservationId = reservation.ToString(),
            Reason = "The cutoff moved before the commit landed.",
            RevokeCommitsFrom = commit.CommittedAt,
        }, cancellationToken: Cancel);

        var revoked = await NextNoticeAsync(myAccount, mine);
        revoked.Type.ShouldBe("DistributorOrderRevoked");
        revoked.Body.GetProperty("reservationId").GetGuid().ShouldBe(reservation);
        revoked.Body.GetProperty("committedAt").GetDateTimeOffset().ShouldBe(placed.Body.GetProperty("committedAt").GetDateTimeOffset());
        revoked.Body.GetProperty("units").GetInt64().ShouldBe(5);
        revoked.Body.GetProperty("holdIds").EnumerateArray().Select(h => h.GetGuid())
            .ShouldBe(placed.Body.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("holdId").GetGuid()));
        revoked.MessageId.ShouldNotBe(placed.MessageId);
        (await OrdersAsync(mine)).ShouldBeEmpty();
    }

    [Fact]
    public async Task The_clients_order_queue_hands_over_inventorys_notices_typed_again_until_acknowledged_and_drops_a_message_inventory_did_not_publish()
    {
        var (mine, myAccount) = await RegisterAsync();
        await SnapshotAsync(mine, new Stock(A800, "SG1", 50, Price: 9000m));
        // An account that may write to the default exchange (no tenant's: an operator's) puts a forged order in the
        // queue by name, ahead of inventory's, without inventory's user-id (the broker refuses a forged one).
        await using (var connection = await FeedsRecipe.ConnectAsync(replica.FeedsVhost))
        {
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), Cancel);
            await channel.BasicPublishAsync("", DistributorOrderQueue.QueueName(mine), mandatory: true,
                new BasicProperties { Type = "DistributorOrderPlaced", MessageId = "forged" },
                Encoding.UTF8.GetBytes($$"""{"distributorId":"{{mine}}","reservationId":"{{Guid.NewGuid()}}","units":1000,"lines":[]}"""), Cancel);
        }

        var reservation = Guid.NewGuid();
        await replica.Inventory.PlaceInFullAsync(reservation, "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 5));
        var commit = await replica.Inventory.CommitAsync(reservation);
        var dropped = new List<DroppedMessage>();
        var options = new DistributorOrderQueueOptions { Broker = myAccount, DistributorId = mine, Dropped = d => { lock (dropped) { dropped.Add(d); } } };

        // Read and not acknowledged: the connection closes and the notice stays on the queue.
        DistributorOrderNotice first;
        await using (var queue = await DistributorOrderQueue.ConnectAsync(options, Cancel))
        {
            first = await NextAsync(queue);
            queue.DroppedCount.ShouldBe(1);
        }

        first.Redelivered.ShouldBeFalse();
        var order = first.Order.ShouldNotBeNull();
        first.Revocation.ShouldBeNull();
        order.ReservationId.ShouldBe(reservation);
        order.BuyerOrganisation.ShouldBe("acme-servers");
        order.CommittedAt.ShouldBe(commit.CommittedAt.ToDateTimeOffset());
        order.Lines.Select(l => (l.Sku, l.Warehouse, l.Units, l.UnitPrice, l.Currency)).ShouldBe([(A800, "SG1", 5L, 9000m, "USD")]);
        var listed = (await OrdersAsync(mine)).ShouldHaveSingleItem();
        order.Lines.Select(l => l.HoldId).ShouldBe(Lines(listed).Select(l => l.HoldId), "the notice's lines are the orders list's");
        var forged = dropped.ShouldHaveSingleItem();
        (forged.MessageId, forged.UserId).ShouldBe(("forged", null));
        forged.Reason.ShouldContain("user-id");

        await replica.Inventory.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest
        {
            ReservationId = reservation.ToString(),
            Reason = "The cutoff moved before the commit landed.",
            RevokeCommitsFrom = commit.CommittedAt,
        }, cancellationToken: Cancel);

        await using (var queue = await DistributorOrderQueue.ConnectAsync(options, Cancel))
        {
            var again = await NextAsync(queue);
            (again.MessageId, again.Redelivered).ShouldBe((first.MessageId, true), "a notice comes again until it is acknowledged");
            await again.AcknowledgeAsync(Cancel);
            var revoked = await NextAsync(queue);
            await revoked.AcknowledgeAsync(Cancel);

            var revocation = revoked.Revocation.ShouldNotBeNull();
            revoked.Order.ShouldBeNull();
            (revocation.ReservationId, revocation.CommittedAt, revocation.Units).ShouldBe((reservation, order.CommittedAt, 5L));
            revocation.HoldIds.ShouldBe(order.Lines.Select(l => l.HoldId));
            queue.DroppedCount.ShouldBe(0, "the forged message was dropped for good by the first reader");
        }

        (await NextNoticeOrNullAsync(myAccount, mine)).ShouldBeNull("both notices were acknowledged");
    }

    private static async Task<DistributorOrderNotice> NextAsync(DistributorOrderQueue queue)
    {
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        patience.CancelAfter(TimeSpan.FromMinutes(1));
        await foreach (var notice in queue.ReadAsync(patience.Token))
        {
            return notice;
        }

        throw new InvalidOperationException("the queue ended");
    }

    [Fact]
    public async Task A_distributors_account_is_refused_reading_another_distributors_queue()
    {
        var (_, myAccount) = await RegisterAsync();
        var (other, _) = await RegisterAsync();

        await using var connection = await FeedsRecipe.ConnectAsync(myAccount);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: Cancel);
        (await BusIsolationTests.ReplyCodeOfRefusalAsync(channel, () => channel.BasicGetAsync($"distributor-orders.{other}", autoAck: true)))
            .ShouldBe((ushort)403);
    }

    [Theory]
    [InlineData("distributor-orders")]
    [InlineData("")]
    public async Task A_distributors_account_is_refused_publishing_to_the_order_exchange_or_any_other(string exchange)
    {
        var (mine, myAccount) = await RegisterAsync();
        var (other, _) = await RegisterAsync();

        await using var connection = await FeedsRecipe.ConnectAsync(myAccount);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), Cancel);
        // A forged order for the other distributor, as inventory would publish it.
        var routingKey = exchange.Length == 0 ? $"distributor-orders.{other}" : other;
        var code = await BusIsolationTests.ReplyCodeOfRefusalAsync(channel, () => channel.BasicPublishAsync(
            exchange, routingKey, mandatory: false, new BasicProperties { Type = "DistributorOrderPlaced" },
            Encoding.UTF8.GetBytes($$"""{"distributorId":"{{other}}","units":1000}""")).AsTask());

        code.ShouldBe((ushort)403);
        mine.ShouldNotBe(other);
    }

    [Fact]
    public async Task A_distributors_account_is_refused_by_the_internal_virtual_host()
    {
        var (_, myAccount) = await RegisterAsync();
        var vhost = FeedsRecipe.NameOf(replica.InternalVhost);
        Exception? refused = null;
        try
        {
            await using var connection = await FeedsRecipe.ConnectAsync(myAccount, vhost);
            await using var channel = await connection.CreateChannelAsync(cancellationToken: Cancel);
            await channel.BasicGetAsync("distributor-order-relay", autoAck: true, Cancel);
        }
        catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException)
        {
            refused = e;
        }

        refused.ShouldNotBeNull("the broker let a distributor's account into inventory's internal virtual host");
        FeedsRecipe.Flatten(refused).ShouldContain(e => e.Message.Contains($"access to vhost '{vhost}' refused", StringComparison.Ordinal),
            $"expected the broker to refuse the vhost; got {refused}");
    }

    [Theory]
    [InlineData("")]
    [InlineData("distributor-orders")]
    public async Task The_shared_feed_account_is_refused_publishing_into_an_order_queue(string exchange)
    {
        // It may write to the shared stock-feed exchange only: not to the default exchange, which routes to any queue by name.
        var (other, _) = await RegisterAsync();

        await using var connection = await FeedsRecipe.ConnectAsync(replica.SharedFeedAccount);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), Cancel);
        var code = await BusIsolationTests.ReplyCodeOfRefusalAsync(channel, () => channel.BasicPublishAsync(
            exchange, exchange.Length == 0 ? $"distributor-orders.{other}" : other, mandatory: false, new BasicProperties { Type = "DistributorOrderPlaced" },
            Encoding.UTF8.GetBytes("{}")).AsTask());

        code.ShouldBe((ushort)403);
    }

    [Fact]
    public async Task An_account_that_can_write_to_an_order_queue_cannot_pass_its_message_off_as_inventorys()
    {
        // No tenant's account can write there any more; an operator's (here the broker's administrator) can, and the
        // broker checks user-id against the publishing account, so only inventory's notices carry inventory's.
        var (other, _) = await RegisterAsync();

        await using var connection = await FeedsRecipe.ConnectAsync(replica.FeedsVhost);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), Cancel);
        var code = await BusIsolationTests.ReplyCodeOfRefusalAsync(channel, () => channel.BasicPublishAsync(
            "", $"distributor-orders.{other}", mandatory: false, new BasicProperties { UserId = "brokering-inventory-feeds" },
            Encoding.UTF8.GetBytes("{}")).AsTask());

        code.ShouldBe((ushort)406, "PRECONDITION_FAILED: the user-id is not the publishing account's");
    }

    [Fact]
    public async Task Issuing_the_account_again_rotates_its_password_and_the_old_one_is_refused()
    {
        var (mine, first) = await RegisterAsync();

        var second = await FeedsRecipe.DistributorAccountAsync(replica.FeedsVhost, mine);

        second.UserInfo.ShouldNotBe(first.UserInfo);
        await using (var connection = await FeedsRecipe.ConnectAsync(second))
        {
            await using var channel = await connection.CreateChannelAsync(cancellationToken: Cancel);
            (await channel.BasicGetAsync($"distributor-orders.{mine}", autoAck: true, Cancel)).ShouldBeNull();
        }

        await Should.ThrowAsync<BrokerUnreachableException>(async () => await (await FeedsRecipe.ConnectAsync(first)).DisposeAsync());
    }

    private async Task<(string Id, Uri Account)> RegisterAsync()
    {
        var id = $"t-{Guid.NewGuid():N}"[..20];
        using (var response = await replica.Inventory.Http.PostAsJsonAsync("/v1/distributors", new { id, name = $"Test distributor {id}" }, Cancel))
        {
            response.EnsureSuccessStatusCode();
        }

        return (id, await replica.DistributorAccountAsync(id));
    }

    private async Task SnapshotAsync(string distributor, params Stock[] items)
    {
        using var response = await replica.Inventory.Http.PostAsJsonAsync($"/v1/distributors/{distributor}/stock-feed", new
        {
            distributorId = distributor,
            sequence = 1,
            kind = "Snapshot",
            items = items.Select(i => new
            {
                sku = i.Sku, warehouse = i.Warehouse, quantityOnHand = i.Quantity, unitPrice = i.Price, currency = "USD", leadTimeDays = 2, minimumOrderQuantity = 1,
            }),
        }, Json, Cancel);
        response.EnsureSuccessStatusCode();
    }

    private async Task<List<JsonElement>> OrdersAsync(string distributor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/distributor/orders");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Distributor(distributor));
        using var response = await replica.Inventory.Http.SendAsync(request, Cancel);
        response.EnsureSuccessStatusCode();
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("orders").EnumerateArray()];
    }

    private static List<(Guid HoldId, string? Sku, string? Warehouse, long Units, decimal UnitPrice)> Lines(JsonElement order) =>
        [.. order.GetProperty("lines").EnumerateArray().Select(l => (l.GetProperty("holdId").GetGuid(), l.GetProperty("sku").GetString(),
            l.GetProperty("warehouse").GetString(), l.GetProperty("units").GetInt64(), l.GetProperty("unitPrice").GetDecimal()))];

    private static async Task<Notice> NextNoticeAsync(Uri account, string distributor) =>
        await Eventually.Until(() => NextNoticeOrNullAsync(account, distributor), n => n is not null, TimeSpan.FromMinutes(1), $"a notice on distributor-orders.{distributor}")
        ?? throw new InvalidOperationException("unreachable");

    /// <summary>Takes the next message off the distributor's queue with the distributor's own account, as its ERP would.</summary>
    private static async Task<Notice?> NextNoticeOrNullAsync(Uri account, string distributor)
    {
        await using var connection = await FeedsRecipe.ConnectAsync(account);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: Cancel);
        var message = await channel.BasicGetAsync($"distributor-orders.{distributor}", autoAck: true, Cancel);
        if (message is null)
        {
            return null;
        }

        var type = message.BasicProperties.Headers?["type"] is byte[] header ? Encoding.UTF8.GetString(header) : null;
        type.ShouldBe(message.BasicProperties.Type, "the type header and property agree");
        return new Notice(type, message.BasicProperties.MessageId, message.BasicProperties.UserId, JsonDocument.Parse(message.Body).RootElement.Clone());
    }

    private sealed record Notice(string? Type, string? MessageId, string? UserId, JsonElement Body);
}
