using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Inventory.DistributorWebhooks;
using Brokering.ServiceDefaults;
using Brokering.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;
using static Brokering.Inventory.Tests.InventoryFixture;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The recorder's <c>distributor-webhooks</c> queue receives inventory's hold and order events only while some
/// distributor has a webhook subscription (docs/inventory.md, "Only while someone subscribes"): what the broker routes, read through its management API,
/// and what the recorder is given, on replicas of the tests' own (inventory's own broker account where it binds).
/// </summary>
public sealed class DistributorWebhookBindingTests(InventoryFixture fixture)
{
    private const string A800 = "NVIDIA-A800-SXM4-80GB";
    private const string Subscriptions = "/v1/distributor/webhooks/subscriptions";
    private const string Recorder = "distributor-webhooks";

    // The publish exchanges MassTransit names after the event types the recorder consumes.
    private static readonly string[] EventExchanges =
    [
        .. new[]
        {
            "Brokering.Contracts.Inventory:DistributorOrderPlaced", "Brokering.Contracts.Inventory:DistributorOrderRevoked",
            "Brokering.Contracts.Inventory:HoldsCommitted", "Brokering.Contracts.Inventory:HoldsExpired",
            "Brokering.Contracts.Inventory:HoldsPlaced", "Brokering.Contracts.Inventory:HoldsReleased",
        }.Order(StringComparer.Ordinal),
    ];

    private static readonly string[] AllEvents = ["holds.placed", "holds.committed", "holds.released", "holds.expired", "order.placed", "order.revoked"];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task While_no_distributor_subscribes_hold_events_are_not_published_and_the_first_subscription_receives_every_change_after_it()
    {
        // A system of its own: the fixture's database holds other tests' subscriptions.
        var database = await TestInfrastructure.CreateDatabaseAsync("inventory_no_webhooks", Cancel);
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync("inventory-no-webhooks", Cancel);
        try
        {
            var recorder = new RecorderDeliveries();
            await using var probe = await BrokerProbe.StartAsync(virtualHost, "inventory-no-webhooks-probe", events => events
                .Keep<Contracts.Inventory.HoldsPlaced>().Keep<Contracts.Inventory.HoldsCommitted>().Keep<Contracts.Inventory.HoldsReleased>()
                .Keep<Contracts.Inventory.DistributorOrderPlaced>().Keep<Contracts.Inventory.DistributorOrderRevoked>());
            await using var host = await InventoryHost.StartAsync(database, virtualHost, services: s => s.AddConsumeObserver(_ => recorder));
            var mine = await fixture.NewDistributorAsync(host);
            await fixture.SnapshotAsync(host, mine, 1, new Stock(A800, "SG1", 50));

            // Placed, committed, and the commit revoked by a release, with nobody subscribed.
            var before = Guid.NewGuid();
            await host.PlaceInFullAsync(before, "globex", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 2));
            var committed = await host.CommitAsync(before);
            await host.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest
            {
                ReservationId = before.ToString(), Reason = "Cutoff moved.", RevokeCommitsFrom = committed.CommittedAt,
            }, cancellationToken: Cancel);

            // The order notices have a consumer of their own and are always written, each in the transaction that would
            // have written the commit's and the release's hold events beside it, and relayed after them.
            await probe.WaitForAsync<Contracts.Inventory.DistributorOrderPlaced>(e => e.ReservationId == before);
            await probe.WaitForAsync<Contracts.Inventory.DistributorOrderRevoked>(e => e.ReservationId == before);
            await using (var connection = new Npgsql.NpgsqlConnection(database))
            {
                await connection.OpenAsync(Cancel);
                await using var waiting = new Npgsql.NpgsqlCommand("SELECT count(*) FROM outbox_message", connection);
                await Eventually.Until(async () => (long)(await waiting.ExecuteScalarAsync(Cancel))!, n => n == 0, TimeSpan.FromSeconds(30), "the outbox relayed");
            }

            probe.All<Contracts.Inventory.HoldsPlaced>(e => e.ReservationId == before).ShouldBeEmpty("nobody subscribes: no placement announced");
            probe.All<Contracts.Inventory.HoldsCommitted>(e => e.ReservationId == before).ShouldBeEmpty("nobody subscribes: no commit announced");
            probe.All<Contracts.Inventory.HoldsReleased>(e => e.ReservationId == before).ShouldBeEmpty("nobody subscribes: no release announced");
            (await TestInfrastructure.ExchangeSourcesAsync(virtualHost, Recorder, Cancel)).ShouldBeEmpty("no event exchange is bound to the recorder's");

            // Sent to the recorder's own exchange: it queues behind anything routed to the recorder's queue so far.
            var marker = new Contracts.Inventory.HoldsReleased(Guid.NewGuid(), [], "marker");
            await (await probe.Send.GetSendEndpoint(new Uri($"exchange:{Recorder}"))).Send(marker, Cancel);
            await Eventually.Until(() => Task.FromResult(recorder.Reservations.ToList()), r => r.Contains(marker.ReservationId), TimeSpan.FromSeconds(60), "the marker at the recorder");
            recorder.Reservations.ShouldBe([marker.ReservationId], "no hold event reached the recorder");

            // From the first subscription on, every change is announced again, and delivered.
            await using var receiver = await new WebhookReceiver().StartAsync();
            var subscription = await SubscribeAsync(host, mine, receiver.Url, AllEvents);
            var after = Guid.NewGuid();
            await host.PlaceInFullAsync(after, "globex", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 3));
            await host.CommitAsync(after);
            (await probe.WaitForAsync<Contracts.Inventory.HoldsPlaced>(e => e.ReservationId == after)).Holds.Single().Held.ShouldBe(3);
            (await probe.WaitForAsync<Contracts.Inventory.HoldsCommitted>(e => e.ReservationId == after)).Units.ShouldBe(3);
            await Eventually.Until(
                () => Task.FromResult(receiver.Received.Where(r => r.Accepted && r.ReservationId == after).Select(r => r.Type).ToList()),
                types => types.Contains("holds.placed") && types.Contains("holds.committed"), TimeSpan.FromSeconds(60), "the placement's and the commit's deliveries");
            receiver.Received.First(r => r.ReservationId == after).SignatureVerifies(subscription.Secret).ShouldBeTrue();
        }
        finally
        {
            await TestInfrastructure.DropDatabaseAsync(database);
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
        }
    }

    [Fact]
    public async Task Deleting_the_last_subscription_unbinds_the_recorders_queue_and_the_next_first_subscription_is_bound_before_its_create_answers()
    {
        // Inventory's own broker account (deploy/local/rabbitmq-services.sh) binds and unbinds.
        await using var replica = await FeedsReplica.CreateAsync("webhook-bindings");
        var host = replica.Inventory;
        await using var receiver = await new WebhookReceiver().StartAsync();
        var mine = await fixture.NewDistributorAsync(host);
        await fixture.SnapshotAsync(host, mine, 1, new Stock(A800, "SG1", 50));
        (await BoundAsync(replica)).ShouldBeEmpty("nobody subscribes yet");

        var first = await SubscribeAsync(host, mine, receiver.Url, AllEvents);
        (await BoundAsync(replica)).ShouldBe(EventExchanges, ignoreOrder: true, customMessage: "bound before the first subscription's create answered");
        var second = await SubscribeAsync(host, mine, receiver.Url, ["holds.placed"]);
        await DeleteAsync(host, mine, first.Id);
        (await BoundAsync(replica)).ShouldBe(EventExchanges, ignoreOrder: true, customMessage: "a subscription remains");
        await DeleteAsync(host, mine, second.Id);
        (await BoundAsync(replica)).ShouldBeEmpty("unbound once the last subscription is deleted");

        var again = await SubscribeAsync(host, mine, receiver.Url, AllEvents);
        (await BoundAsync(replica)).ShouldBe(EventExchanges, ignoreOrder: true, customMessage: "bound again by the next first subscription");
        var reservation = Guid.NewGuid();
        await host.PlaceInFullAsync(reservation, "globex", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 2));
        var placed = await Eventually.Until(
            () => Task.FromResult(receiver.Received.FirstOrDefault(r => r.Accepted && r.ReservationId == reservation)), r => r is not null,
            TimeSpan.FromSeconds(60), "the placement's delivery");
        placed!.Type.ShouldBe("holds.placed");
        placed.SignatureVerifies(again.Secret).ShouldBeTrue("delivered to the subscription made after the unbind");
    }

    [Fact]
    public async Task A_starting_replica_binds_the_queue_when_subscriptions_exist_and_unbinds_the_bindings_left_from_before_when_none_do()
    {
        await using var replica = await FeedsReplica.CreateAsync("webhook-restart");
        var mine = await fixture.NewDistributorAsync(replica.Inventory);
        await SubscribeAsync(replica.Inventory, mine, "https://erp.example.com/hooks", AllEvents);

        // Bindings lost while inventory was down (a virtual host rebuilt from definitions that lack them).
        await replica.StopInventoryAsync();
        await BindAsync(replica, bind: false);
        (await BoundAsync(replica)).ShouldBeEmpty();
        await replica.StartInventoryAsync();
        (await Eventually.Until(() => BoundAsync(replica), b => b.Count == EventExchanges.Length, TimeSpan.FromSeconds(60), "every binding after a restart"))
            .ShouldBe(EventExchanges, ignoreOrder: true, customMessage: "a subscription exists, so the starting replica binds");

        // The bindings MassTransit's consume topology made before this replica's version, with nobody subscribed now.
        await replica.StopInventoryAsync();
        await using (var connection = new Npgsql.NpgsqlConnection(replica.Database))
        {
            await connection.OpenAsync(Cancel);
            await using var delete = new Npgsql.NpgsqlCommand("DELETE FROM webhook_subscriptions", connection);
            await delete.ExecuteNonQueryAsync(Cancel);
        }

        await BindAsync(replica, bind: true);
        (await BoundAsync(replica)).ShouldBe(EventExchanges, ignoreOrder: true);
        await replica.StartInventoryAsync();
        (await Eventually.Until(() => BoundAsync(replica), b => b.Count == 0, TimeSpan.FromSeconds(60), "no bindings after a restart"))
            .ShouldBeEmpty("no subscription exists, so the starting replica unbinds");
    }

    [Fact]
    public async Task A_subscription_is_refused_with_503_and_not_made_when_the_broker_does_not_bind_the_recorders_queue_in_time()
    {
        // A broker that takes the connection and never answers.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var host = await fixture.StartReplicaAsync(fixture.VirtualHost,
            new Dictionary<string, string> { ["Inventory:WebhookQueueBindTimeout"] = "00:00:01" },
            services => services.AddSingleton(sp => ActivatorUtilities.CreateInstance<DistributorWebhookBindings>(
                sp, BrokerAddress.Parse($"amqp://guest:guest@127.0.0.1:{port}/", "test"))));
        var mine = await fixture.NewDistributorAsync(host);

        using var response = await SendAsync(host, mine, HttpMethod.Post, Subscriptions,
            JsonContent.Create(new { url = "https://erp.example.com/hooks", eventTypes = AllEvents }));

        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        using var list = await SendAsync(fixture.A, mine, HttpMethod.Get, Subscriptions);
        (await list.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("subscriptions").GetArrayLength()
            .ShouldBe(0, "no subscription is left that would receive nothing");
    }

    private static async Task<List<string>> BoundAsync(FeedsReplica replica) =>
        [.. await TestInfrastructure.ExchangeSourcesAsync(replica.InternalVhost, Recorder, Cancel)];

    // As the broker's administrator, as MassTransit's consume topology bound them: each event's exchange to the endpoint's.
    private static async Task BindAsync(FeedsReplica replica, bool bind)
    {
        await using var connection = await FeedsRecipe.ConnectAsync(replica.InternalVhost);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: Cancel);
        await channel.ExchangeDeclareAsync(Recorder, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: Cancel);
        foreach (var source in EventExchanges)
        {
            await channel.ExchangeDeclareAsync(source, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: Cancel);
            if (bind)
            {
                await channel.ExchangeBindAsync(Recorder, source, string.Empty, cancellationToken: Cancel);
            }
            else
            {
                await channel.ExchangeUnbindAsync(Recorder, source, string.Empty, cancellationToken: Cancel);
            }
        }
    }

    private static async Task<Created> SubscribeAsync(InventoryHost host, string distributor, string url, string[] eventTypes)
    {
        using var response = await SendAsync(host, distributor, HttpMethod.Post, Subscriptions, JsonContent.Create(new { url, eventTypes }));
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Cancel));
        var created = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        return new Created(created.GetProperty("subscription").GetProperty("id").GetGuid(), created.GetProperty("secret").GetString()!);
    }

    private static async Task DeleteAsync(InventoryHost host, string distributor, Guid id)
    {
        using var response = await SendAsync(host, distributor, HttpMethod.Delete, $"{Subscriptions}/{id}");
        response.StatusCode.ShouldBe(HttpStatusCode.NoContent);
    }

    private static async Task<HttpResponseMessage> SendAsync(InventoryHost host, string distributor, HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Distributor(distributor));
        return await host.Http.SendAsync(request, Cancel);
    }

    private sealed record Created(Guid Id, string Secret);

    /// <summary>The reservations of the hold events the recorder's endpoint was given, in order.</summary>
    private sealed class RecorderDeliveries : IConsumeObserver
    {
        private readonly ConcurrentQueue<Guid> reservations = new();

        public IEnumerable<Guid> Reservations => reservations;

        public Task PreConsume<T>(ConsumeContext<T> context)
            where T : class
        {
            if (context.ReceiveContext.InputAddress?.AbsolutePath.EndsWith($"/{Recorder}", StringComparison.Ordinal) == true)
            {
                reservations.Enqueue(context.Message switch
                {
                    Contracts.Inventory.HoldsPlaced e => e.ReservationId,
                    Contracts.Inventory.HoldsCommitted e => e.ReservationId,
                    Contracts.Inventory.HoldsReleased e => e.ReservationId,
                    Contracts.Inventory.HoldsExpired e => e.ReservationId,
                    Contracts.Inventory.DistributorOrderPlaced e => e.ReservationId,
                    Contracts.Inventory.DistributorOrderRevoked e => e.ReservationId,
                    _ => Guid.Empty,
                });
            }

            return Task.CompletedTask;
        }

        public Task PostConsume<T>(ConsumeContext<T> context)
            where T : class => Task.CompletedTask;

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception)
            where T : class => Task.CompletedTask;
    }
}
