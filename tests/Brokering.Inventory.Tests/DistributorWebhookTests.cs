using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Inventory.DistributorWebhooks;
using Brokering.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using static Brokering.Inventory.Tests.InventoryFixture;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Distributors' webhooks end to end: subscriptions made through the REST API with a distributor's token, holds placed,
/// committed, released and expired through the real ledger (gRPC, as ordering calls it), the events carried by the
/// outbox and the internal bus to the recorder, and a real HTTP receiver in the test that checks signatures, fails on
/// command and is stopped and started again. Two replicas share the work.
/// </summary>
public sealed class DistributorWebhookTests(InventoryFixture fixture)
{
    private const string A800 = "NVIDIA-A800-SXM4-80GB";
    private const string H800 = "NVIDIA-H800-SXM5-80GB";
    private const string Subscriptions = "/v1/distributor/webhooks/subscriptions";

    private static readonly string[] AllEvents = ["holds.placed", "holds.committed", "holds.released", "holds.expired", "order.placed", "order.revoked"];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_distributor_receives_its_holds_placed_committed_and_its_order_signed_in_order_with_only_its_own_lines_and_logged()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        var mine = await fixture.NewDistributorAsync();
        var other = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50, Price: 9000m), new Stock(H800, "HK", 50, Price: 25000m));
        await fixture.SnapshotAsync(other, 1, new Stock(A800, "SG1", 50));
        var subscription = await SubscribeAsync(mine, receiver.Url, AllEvents);
        var reservation = Guid.NewGuid();

        await fixture.A.PlaceInFullAsync(reservation, "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 5), Hold(mine, H800, "HK", 2), Hold(other, A800, "SG1", 7));
        var commit = await fixture.A.CommitAsync(reservation);

        var received = await AcceptedAsync(receiver, reservation, count: 3);
        received[0].Type.ShouldBe("holds.placed", "the placement comes before anything that follows from it");
        received.Skip(1).Select(r => r.Type).ShouldBe(["holds.committed", "order.placed"], ignoreOrder: true);
        received.ShouldAllBe(r => r.SignatureVerifies(subscription.Secret));
        received.ShouldNotContain(r => r.SignatureVerifies(NewSecret()), "the signature depends on the secret");

        var placed = received[0].Data;
        placed.GetProperty("buyerOrganisation").GetString().ShouldBe("acme-servers");
        placed.GetProperty("units").GetInt64().ShouldBe(7, "the other distributor's 7 units are not in this distributor's event");
        placed.GetProperty("holds").EnumerateArray().Select(h => (h.GetProperty("sku").GetString(), h.GetProperty("warehouse").GetString(), h.GetProperty("units").GetInt64(), h.GetProperty("unitPrice").GetDecimal()))
            .ShouldBe([(A800, "SG1", 5L, 9000m), (H800, "HK", 2L, 25000m)]);
        var order = received.Single(r => r.Type == "order.placed");
        order.Data.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("holdId").GetString()).Order()
            .ShouldBe(commit.HoldIds.Where(id => placed.GetProperty("holds").EnumerateArray().Any(h => h.GetProperty("holdId").GetString() == id)).Order());
        order.Data.GetProperty("units").GetInt64().ShouldBe(7);
        order.Id.ShouldBe($"placed:{mine}:{reservation:N}:{commit.CommittedAt.ToDateTimeOffset().UtcTicks}", customMessage: "the same id as the notice on the distributor's AMQP queue");

        var log = await SettledLogAsync(mine, subscription.Id, count: 3);
        log.Select(d => (d.GetProperty("eventId").GetString(), d.GetProperty("status").GetString(), d.GetProperty("attempts").GetInt32()))
            .ShouldBe(received.AsEnumerable().Reverse().Select(r => ((string?)r.Id, (string?)"Delivered", 1)), "the log, newest first, shows each event delivered at the first attempt");
    }

    [Fact]
    public async Task A_subscription_made_while_the_recorder_remembers_there_are_none_gets_the_next_event_once_its_create_is_answered()
    {
        // A system of its own: the fixture's database holds other tests' subscriptions, and this is about a replica that
        // has just found none and remembers it.
        var database = await TestInfrastructure.CreateDatabaseAsync("inventory_first_webhook");
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync("inventory-first-webhook");
        try
        {
            await using var host = await InventoryHost.StartAsync(database, virtualHost);
            await using var receiver = await new WebhookReceiver().StartAsync();
            var mine = await fixture.NewDistributorAsync(host);
            await fixture.SnapshotAsync(host, mine, 1, new Stock(A800, "SG1", 50));
            using (var scope = host.Services.CreateScope())
            {
                var presence = scope.ServiceProvider.GetRequiredService<SubscriptionPresence>();
                (await presence.AnyAsync(scope.ServiceProvider.GetRequiredService<DistributorWebhooksDbContext>(), Cancel))
                    .ShouldBeFalse("the recorder now remembers that nobody subscribes");
            }

            var subscription = await SubscribeAsync(mine, receiver.Url, AllEvents, host);
            var reservation = Guid.NewGuid();
            await host.PlaceInFullAsync(reservation, "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 2));

            var placed = (await AcceptedAsync(receiver, reservation, count: 1)).Single();
            placed.Type.ShouldBe("holds.placed", "an event recorded after the create answer reaches the subscription, whatever a replica remembered");
            placed.SignatureVerifies(subscription.Secret).ShouldBeTrue();
        }
        finally
        {
            await TestInfrastructure.DropDatabaseAsync(database);
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
        }
    }

    [Fact]
    public async Task A_subscription_gets_only_the_event_types_it_chose_here_released_and_expired_holds()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        var mine = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50));
        var subscription = await SubscribeAsync(mine, receiver.Url, ["holds.released", "holds.expired"]);
        var released = Guid.NewGuid();
        var expired = Guid.NewGuid();

        await fixture.A.PlaceInFullAsync(released, "globex", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 3));
        await fixture.A.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest { ReservationId = released.ToString(), Reason = "The buyer cancelled." }, cancellationToken: Cancel);
        await fixture.A.PlaceInFullAsync(expired, "globex", TimeSpan.FromMilliseconds(300), Hold(mine, A800, "SG1", 4));

        var release = (await AcceptedAsync(receiver, released, count: 1)).Single();
        var expiry = (await AcceptedAsync(receiver, expired, count: 1)).Single();
        (release.Type, release.Data.GetProperty("units").GetInt64(), release.Data.GetProperty("reason").GetString()).ShouldBe(("holds.released", 3L, "The buyer cancelled."));
        (expiry.Type, expiry.Data.GetProperty("units").GetInt64()).ShouldBe(("holds.expired", 4L));
        new[] { release, expiry }.ShouldAllBe(r => r.SignatureVerifies(subscription.Secret));
        await Task.Delay(500, Cancel);
        receiver.Received.ShouldNotContain(r => r.Type == "holds.placed", "the subscription did not ask for placements");
    }

    [Fact]
    public async Task A_hold_event_the_recorder_is_given_again_records_no_second_delivery_and_leaves_no_inbox_row()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        var mine = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50));
        var subscription = await SubscribeAsync(mine, receiver.Url, ["holds.committed"]);
        var reservation = Guid.NewGuid();
        await fixture.A.PlaceInFullAsync(reservation, "globex", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 3));
        await fixture.A.CommitAsync(reservation);
        await SettledLogAsync(mine, subscription.Id, count: 1);

        // The broker hands the recorder the same event again, twice, under one id (an acknowledgement lost, a replica
        // killed mid-message): the recorder keeps no inbox, its (subscription, event id) key is what makes it idempotent.
        var committed = await fixture.Events.WaitForAsync<Contracts.Inventory.HoldsCommitted>(e => e.ReservationId == reservation);
        var recorder = await fixture.Events.Send.GetSendEndpoint(new Uri("exchange:distributor-webhooks"));
        var messageId = NewId.NextGuid();
        for (var delivery = 0; delivery < 2; delivery++)
        {
            await recorder.Send(committed, context => context.MessageId = messageId, Cancel);
        }

        // A later reservation's event queues behind them: once it is recorded, so are they.
        var later = Guid.NewGuid();
        await fixture.A.PlaceInFullAsync(later, "globex", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 2));
        await fixture.A.CommitAsync(later);
        await SettledLogAsync(mine, subscription.Id, count: 2);
        await Task.Delay(500, Cancel);
        (await DeliveriesAsync(mine, subscription.Id)).Select(d => d.GetProperty("reservationId").GetGuid()).Order()
            .ShouldBe(new[] { reservation, later }.Order(), "one delivery per reservation's commit, however often the event came");

        await using var connection = new Npgsql.NpgsqlConnection(fixture.Database);
        await connection.OpenAsync(Cancel);
        await using var inbox = new Npgsql.NpgsqlCommand("SELECT count(*) FROM inbox_state WHERE message_id = $1", connection) { Parameters = { new() { Value = messageId } } };
        ((long)(await inbox.ExecuteScalarAsync(Cancel))!).ShouldBe(0);
    }

    [Fact]
    public async Task A_failing_receiver_gets_the_event_again_under_the_same_id_after_growing_waits_and_the_reservations_next_event_only_after_it()
    {
        await using var receiver = await new WebhookReceiver { Answer = n => n <= 3 ? 503 : 200 }.StartAsync();
        var mine = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50));
        var subscription = await SubscribeAsync(mine, receiver.Url, ["holds.placed", "holds.released"]);
        var reservation = Guid.NewGuid();

        await fixture.A.PlaceInFullAsync(reservation, "globex", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 2));
        await fixture.A.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest { ReservationId = reservation.ToString(), Reason = "Cancelled." }, cancellationToken: Cancel);

        await AcceptedAsync(receiver, reservation, count: 2);
        var all = receiver.Received;
        all.Select(r => (r.Type, r.AnsweredWith)).ShouldBe(
            [("holds.placed", 503), ("holds.placed", 503), ("holds.placed", 503), ("holds.placed", 200), ("holds.released", 200)],
            "the release waits until the placement before it is delivered");
        all.Take(4).Select(r => r.Id).Distinct().Count().ShouldBe(1, "every attempt carries the same webhook-id");
        all.ShouldAllBe(r => r.SignatureVerifies(subscription.Secret));
        var waits = all.Zip(all.Skip(1), (a, b) => b.At - a.At).Take(3).ToList();
        for (var failure = 0; failure < waits.Count; failure++)
        {
            // Lower bounds only: a busy machine makes a wait longer, never shorter.
            waits[failure].ShouldBeGreaterThanOrEqualTo(WebhookTestSettings.RetryBase * Math.Pow(2, failure) * 0.9, $"each failure doubles the wait (failure {failure + 1})");
        }

        var log = await SettledLogAsync(mine, subscription.Id, count: 2);
        log.Select(d => (d.GetProperty("eventType").GetString(), d.GetProperty("lastResponseStatus").GetInt32()))
            .ShouldBe([("holds.released", 200), ("holds.placed", 200)]);
        // At least the four attempts the receiver answered: on a loaded machine an attempt can also fail before reaching
        // it (it counts, and is retried like any failure).
        log[1].GetProperty("attempts").GetInt32().ShouldBeGreaterThanOrEqualTo(4);
    }

    [Fact]
    public async Task Repeated_failures_pause_the_subscription_until_the_distributor_resumes_it_and_then_what_waited_is_delivered()
    {
        var failing = true;
        await using var receiver = await new WebhookReceiver { Answer = _ => Volatile.Read(ref failing) ? 500 : 200 }.StartAsync();
        var mine = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50));
        var subscription = await SubscribeAsync(mine, receiver.Url, ["holds.placed"]);
        var reservation = Guid.NewGuid();

        await fixture.A.PlaceInFullAsync(reservation, "globex", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 2));
        var paused = await Eventually.Latest(() => SubscriptionAsync(mine, subscription.Id), s => s.GetProperty("state").GetString() == "Paused",
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));

        paused.GetProperty("state").GetString().ShouldBe("Paused");
        paused.GetProperty("pausedBecause").GetString().ShouldStartWith("Paused after 5 failed attempts in a row");
        var attempts = receiver.Received.Count;
        attempts.ShouldBe(5);
        await Task.Delay(1500, Cancel);
        receiver.Received.Count.ShouldBe(attempts, "a paused subscription sends nothing");

        Volatile.Write(ref failing, false);
        using (var resume = await SendAsync(mine, HttpMethod.Post, $"{Subscriptions}/{subscription.Id}/resume"))
        {
            resume.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        (await AcceptedAsync(receiver, reservation, count: 1)).Single().Type.ShouldBe("holds.placed");
        (await SubscriptionAsync(mine, subscription.Id)).GetProperty("state").GetString().ShouldBe("Active");
    }

    [Fact]
    public async Task Events_while_the_receiver_is_down_arrive_once_it_is_back_and_a_replay_sends_one_again_under_its_id()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        var mine = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50));
        var subscription = await SubscribeAsync(mine, receiver.Url, AllEvents);
        var reservation = Guid.NewGuid();
        await receiver.StopAsync();

        await fixture.A.PlaceInFullAsync(reservation, "initech", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 6));
        await fixture.A.CommitAsync(reservation);
        await Eventually.Latest(() => DeliveriesAsync(mine, subscription.Id), log => log.Any(d => d.GetProperty("lastError").ValueKind == JsonValueKind.String),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        await receiver.StartAsync();

        var received = await AcceptedAsync(receiver, reservation, count: 3);
        received.ShouldAllBe(r => r.SignatureVerifies(subscription.Secret));
        var log = await SettledLogAsync(mine, subscription.Id, count: 3);
        log.ShouldContain(d => d.GetProperty("attempts").GetInt32() > 1, "the connection was refused while the receiver was down");
        log.ShouldAllBe(d => d.GetProperty("status").GetString() == "Delivered");

        var first = log.Last();
        using (var replay = await SendAsync(mine, HttpMethod.Post, $"{Subscriptions}/{subscription.Id}/deliveries/{first.GetProperty("id").GetGuid()}/replay"))
        {
            replay.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        }

        var again = await Eventually.Latest(() => Task.FromResult(receiver.Received.Where(r => r.Id == first.GetProperty("eventId").GetString()).ToList()),
            r => r.Count == 2, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        again[1].Body.ShouldBe(again[0].Body, "a replay sends the same body under the same webhook-id");
        again[1].SignatureVerifies(subscription.Secret).ShouldBeTrue();
    }

    [Fact]
    public async Task A_distributor_never_receives_another_distributors_events_and_cannot_read_replay_pause_or_delete_its_subscription()
    {
        await using var receiverA = await new WebhookReceiver().StartAsync();
        await using var receiverB = await new WebhookReceiver().StartAsync();
        var a = await fixture.NewDistributorAsync();
        var b = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(a, 1, new Stock(A800, "SG1", 50));
        await fixture.SnapshotAsync(b, 1, new Stock(A800, "SG1", 50));
        var subscriptionA = await SubscribeAsync(a, receiverA.Url, AllEvents);
        var subscriptionB = await SubscribeAsync(b, receiverB.Url, AllEvents);
        var ofA = Guid.NewGuid();
        var ofB = Guid.NewGuid();
        var shared = Guid.NewGuid();

        await fixture.A.PlaceInFullAsync(ofA, "acme-servers", TimeSpan.FromMinutes(10), Hold(a, A800, "SG1", 1));
        await fixture.A.PlaceInFullAsync(ofB, "acme-servers", TimeSpan.FromMinutes(10), Hold(b, A800, "SG1", 2));
        await fixture.A.PlaceInFullAsync(shared, "acme-servers", TimeSpan.FromMinutes(10), Hold(a, A800, "SG1", 3), Hold(b, A800, "SG1", 4));
        await fixture.A.CommitAsync(shared);

        await AcceptedAsync(receiverA, shared, count: 3);
        await AcceptedAsync(receiverB, shared, count: 3);
        await AcceptedAsync(receiverB, ofB, count: 1);
        await AcceptedAsync(receiverA, ofA, count: 1);
        receiverA.Received.ShouldNotContain(r => r.ReservationId == ofB);
        receiverB.Received.ShouldNotContain(r => r.ReservationId == ofA);
        var holdsOfA = await HoldIdsAsync(a);
        receiverA.Received.SelectMany(HoldIdsOf).ShouldAllBe(id => holdsOfA.Contains(id), "every hold A hears of is A's own");
        receiverA.Received.Where(r => r.ReservationId == shared && r.Type != "order.placed").ShouldAllBe(r => r.Data.GetProperty("units").GetInt64() == 3);

        var deliveryOfB = (await DeliveriesAsync(b, subscriptionB.Id)).First().GetProperty("id").GetGuid();
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"{Subscriptions}/{subscriptionB.Id}"),
            (HttpMethod.Get, $"{Subscriptions}/{subscriptionB.Id}/deliveries"),
            (HttpMethod.Post, $"{Subscriptions}/{subscriptionB.Id}/deliveries/{deliveryOfB}/replay"),
            (HttpMethod.Post, $"{Subscriptions}/{subscriptionA.Id}/deliveries/{deliveryOfB}/replay"),
            (HttpMethod.Post, $"{Subscriptions}/{subscriptionB.Id}/pause"),
            (HttpMethod.Delete, $"{Subscriptions}/{subscriptionB.Id}"),
        })
        {
            using var response = await SendAsync(a, method, path);
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, $"{method} {path} as A");
            response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        }

        using var list = await SendAsync(a, HttpMethod.Get, Subscriptions);
        (await list.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("subscriptions").EnumerateArray()
            .Select(s => s.GetProperty("id").GetGuid()).ShouldBe([subscriptionA.Id]);
        (await SubscriptionAsync(b, subscriptionB.Id)).GetProperty("state").GetString().ShouldBe("Active", "A's pause did not touch B's subscription");
        (await DeliveriesAsync(b, subscriptionB.Id)).Count(d => d.GetProperty("replayOf").ValueKind != JsonValueKind.Null).ShouldBe(0, "A's replay did not queue anything for B");
    }

    [Theory]
    [InlineData("""{"url":"http://example.com/hooks","eventTypes":["holds.placed"]}""", "url")]
    [InlineData("""{"url":"https://10.1.2.3/hooks","eventTypes":["holds.placed"]}""", "url")]
    [InlineData("""{"url":"https://169.254.169.254/latest","eventTypes":["holds.placed"]}""", "url")]
    [InlineData("""{"url":"https://erp.example.com/hooks","eventTypes":[]}""", "eventTypes")]
    [InlineData("""{"url":"https://erp.example.com/hooks","eventTypes":["holds.placed","reservation.status_changed"]}""", "eventTypes[1]")]
    [InlineData("""{"url":"https://erp.example.com/hooks","eventTypes":["order.placed"],"description":"DESCRIPTION"}""", "description")]
    public async Task A_bad_subscription_is_refused_with_problem_json_naming_the_field(string body, string field)
    {
        var mine = await fixture.NewDistributorAsync();

        using var response = await SendAsync(mine, HttpMethod.Post, Subscriptions,
            new StringContent(body.Replace("DESCRIPTION", new string('x', 201), StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors").EnumerateObject().Select(e => e.Name).ShouldBe([field]);
    }

    [Fact]
    public async Task Only_a_distributor_token_manages_subscriptions_and_a_bad_log_page_is_refused_naming_the_parameter()
    {
        var mine = await fixture.NewDistributorAsync();
        using var asBuyer = new HttpRequestMessage(HttpMethod.Get, Subscriptions);
        asBuyer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Buyer(mine));
        using var refused = await fixture.A.Http.SendAsync(asBuyer, Cancel);
        refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden, "a buyer's token with the same tenant is not a distributor's");

        var subscription = await SubscribeAsync(mine, "https://erp.example.com/hooks", ["order.placed"]);
        using var badLimit = await SendAsync(mine, HttpMethod.Get, $"{Subscriptions}/{subscription.Id}/deliveries?limit=0&before=x");
        badLimit.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await badLimit.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors").EnumerateObject().Select(e => e.Name).Order().ShouldBe(["before", "limit"]);
    }

    private async Task<Created> SubscribeAsync(string distributor, string url, string[] eventTypes, InventoryHost? host = null)
    {
        using var response = await SendAsync(distributor, HttpMethod.Post, Subscriptions, JsonContent.Create(new { url, eventTypes }), host);
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Cancel));
        var created = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        return new Created(created.GetProperty("subscription").GetProperty("id").GetGuid(), created.GetProperty("secret").GetString()!);
    }

    private async Task<JsonElement> SubscriptionAsync(string distributor, Guid id)
    {
        using var response = await SendAsync(distributor, HttpMethod.Get, $"{Subscriptions}/{id}");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
    }

    private async Task<List<JsonElement>> DeliveriesAsync(string distributor, Guid id)
    {
        using var response = await SendAsync(distributor, HttpMethod.Get, $"{Subscriptions}/{id}/deliveries?limit=200");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("deliveries").EnumerateArray()];
    }

    /// <summary>
    /// The log once it has <paramref name="count"/> deliveries, all delivered: the receiver has a request a moment before
    /// the dispatcher records its answer.
    /// </summary>
    private Task<List<JsonElement>> SettledLogAsync(string distributor, Guid id, int count) =>
        Eventually.Latest(() => DeliveriesAsync(distributor, id),
            log => log.Count == count && log.All(d => d.GetProperty("status").GetString() == "Delivered"), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));

    private async Task<HashSet<string>> HoldIdsAsync(string distributor)
    {
        using var response = await SendAsync(distributor, HttpMethod.Get, "/v1/distributor/holds?limit=200");
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("holds").EnumerateArray().Select(h => h.GetProperty("holdId").GetString()!)];
    }

    private static IEnumerable<string> HoldIdsOf(ReceivedDelivery delivery) =>
        delivery.Data.TryGetProperty("holds", out var holds) ? holds.EnumerateArray().Select(h => h.GetProperty("holdId").GetString()!)
        : delivery.Data.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("holdId").GetString()!);

    private async Task<HttpResponseMessage> SendAsync(string distributor, HttpMethod method, string path, HttpContent? content = null, InventoryHost? host = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Distributor(distributor));
        return await (host ?? fixture.A).Http.SendAsync(request, Cancel);
    }

    /// <summary>The first <paramref name="count"/> deliveries of the reservation the receiver accepted, in arrival order.</summary>
    private static Task<List<ReceivedDelivery>> AcceptedAsync(WebhookReceiver receiver, Guid reservation, int count) =>
        Eventually.Latest(() => Task.FromResult(receiver.Received.Where(r => r.Accepted && r.ReservationId == reservation).ToList()),
            received => received.Count >= count, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));

    private static string NewSecret() => "whsec_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    private sealed record Created(Guid Id, string Secret);
}
