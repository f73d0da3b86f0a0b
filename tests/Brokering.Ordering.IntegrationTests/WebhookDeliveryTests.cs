using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Npgsql;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Buyers' webhooks end to end: a subscription made through the REST API, reservation changes made by the real saga
/// (a submission moves to Screening, the buyer's cancel ends it Cancelled), and a real HTTP receiver in the test that
/// checks signatures and fails on command.
/// </summary>
public sealed class WebhookDeliveryTests(WebhookOrderingHost host) : IClassFixture<WebhookOrderingHost>
{
    [Fact]
    public async Task A_reservations_changes_arrive_in_order_each_signed_with_the_subscriptions_secret_under_its_change_feed_id()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        using var buyer = Buyer("hook-order");
        var subscription = await buyer.SubscribeAsync(receiver.Url);

        var reservation = await buyer.SubmitAndCancelAsync();

        var received = await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 2);
        received.Select(r => r.To).ShouldBe(["Screening", "Cancelled"]);
        received.ShouldAllBe(r => r.SignatureVerifies(subscription.Secret));
        received.ShouldNotContain(r => r.SignatureVerifies(WebhookSecretOfAnotherSubscription), "the signature depends on the secret");
        foreach (var delivery in received)
        {
            using var body = JsonDocument.Parse(delivery.Body);
            body.RootElement.GetProperty("type").GetString().ShouldBe("reservation.status_changed");
            delivery.Id.ShouldBe("chg_" + delivery.Data.GetProperty("cursor").GetString());
            DateTimeOffset.FromUnixTimeSeconds(long.Parse(delivery.Timestamp, System.Globalization.CultureInfo.InvariantCulture))
                .ShouldBe(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5));
        }

        var log = await buyer.DeliveriesAsync(subscription.Subscription.Id);
        log.Select(d => (d.EventId, d.Status, d.Attempts, d.To)).ShouldBe(
            received.Select(r => (r.Id, "Delivered", 1, r.To)), "the log shows each event, delivered at the first attempt");
    }

    [Fact]
    public async Task A_subscription_made_after_a_cursor_is_sent_the_changes_made_before_it_past_that_cursor_and_none_it_was_read_up_to()
    {
        await using var backfilled = await new WebhookReceiver().StartAsync();
        await using var fromNow = await new WebhookReceiver().StartAsync();
        using var buyer = Buyer("hook-backfill");
        // The buyer's system read the feed up to this reservation's end, then was down while another one happened.
        var read = await buyer.SubmitAndCancelAsync();
        var readUpTo = await buyer.CursorOfAsync(read, "Cancelled");
        var missed = await buyer.SubmitAndCancelAsync();
        await buyer.CursorOfAsync(missed, "Cancelled");

        await buyer.SubscribeAfterAsync(backfilled.Url, readUpTo);
        await buyer.SubscribeAsync(fromNow.Url);
        var after = await buyer.SubmitAndCancelAsync();

        (await WebhookBuyer.AcceptedAsync(backfilled, missed, count: 2)).Select(r => r.To).ShouldBe(["Screening", "Cancelled"], "the changes it missed, in order");
        await WebhookBuyer.AcceptedAsync(backfilled, after, count: 2);
        await WebhookBuyer.AcceptedAsync(fromNow, after, count: 2);
        backfilled.Received.ShouldNotContain(r => r.ReservationId == read, "nothing up to the cursor it read to");
        fromNow.Received.ShouldNotContain(r => r.ReservationId == missed || r.ReservationId == read, "without a cursor, only what happens from the subscription on");
        backfilled.Received.Where(r => r.Accepted).Select(r => r.ReservationId).Distinct().Order().ShouldBe(new[] { missed, after }.Order(),
            "the changes it missed and the new ones, each reservation's in order (reservations are delivered side by side)");
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("ahead")]
    public async Task A_start_cursor_that_is_not_one_the_feed_handed_out_is_refused_naming_startAfter(string kind)
    {
        using var buyer = Buyer("hook-backfill-bad");
        var cursor = kind == "garbage" ? "not-a-cursor" : new Brokering.Ordering.Reservations.Changes.ChangeCursor(long.MaxValue, 1).ToString();

        using var response = await buyer.Client.PostAsJsonAsync("/v1/webhooks/subscriptions",
            new { url = "https://erp.example.com/hooks", eventTypes = WebhookBuyer.StatusChanged, startAfter = cursor });

        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
        JsonDocument.Parse(text).RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name).ShouldBe(["startAfter"]);
        (await buyer.Client.GetFromJsonAsync<JsonElement>("/v1/webhooks/subscriptions")).GetProperty("subscriptions").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task A_receiver_that_fails_three_times_gets_the_event_again_after_growing_waits_and_the_next_change_only_after_it()
    {
        await using var receiver = await new WebhookReceiver { Answer = n => n <= 3 ? 503 : 200 }.StartAsync();
        using var buyer = Buyer("hook-retry");
        var subscription = await buyer.SubscribeAsync(receiver.Url);

        var reservation = await buyer.SubmitAndCancelAsync();

        await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 2);
        var all = receiver.Received;
        all.Select(r => (r.To, r.AnsweredWith)).ShouldBe(
            [("Screening", 503), ("Screening", 503), ("Screening", 503), ("Screening", 200), ("Cancelled", 200)],
            "the Cancelled change waits until the Screening change before it is delivered");
        all.Take(4).Select(r => r.Id).Distinct().Count().ShouldBe(1, "every attempt carries the same webhook-id");
        all.ShouldAllBe(r => r.SignatureVerifies(subscription.Secret));
        var waits = all.Zip(all.Skip(1), (a, b) => b.At - a.At).Take(3).ToList();
        for (var failure = 0; failure < waits.Count; failure++)
        {
            // Lower bounds only: a busy machine makes a wait longer, never shorter.
            waits[failure].ShouldBeGreaterThanOrEqualTo(WebhookTestSettings.RetryBase * Math.Pow(2, failure) * 0.9, $"each failure doubles the wait (failure {failure + 1})");
        }

        var log = await buyer.DeliveriesAsync(subscription.Subscription.Id);
        log.Select(d => (d.To, d.Status, d.Attempts, d.LastResponseStatus)).ShouldBe(
            [("Screening", "Delivered", 4, (int?)200), ("Cancelled", "Delivered", 1, (int?)200)]);
        (await buyer.SubscriptionAsync(subscription.Subscription.Id)).ConsecutiveFailures.ShouldBe(0, "a success starts the count over");
    }

    [Fact]
    public async Task Repeated_failures_pause_the_subscription_which_then_sends_nothing_until_resumed_and_then_delivers_what_waited()
    {
        var failing = true;
        await using var receiver = await new WebhookReceiver { Answer = _ => Volatile.Read(ref failing) ? 500 : 200 }.StartAsync();
        using var buyer = Buyer("hook-pause");
        var subscription = await buyer.SubscribeAsync(receiver.Url);

        var reservation = await buyer.SubmitAndCancelAsync();

        var paused = await Eventually.Until(() => buyer.SubscriptionAsync(subscription.Subscription.Id), s => s.State == "Paused",
            WebhookBuyer.Patience, "the subscription to be paused");
        paused.PausedBecause.ShouldNotBeNull().ShouldContain($"{WebhookOrderingHost.FailuresBeforePause} failed attempts in a row");
        paused.PausedBecause.ShouldContain("500");
        paused.ConsecutiveFailures.ShouldBe(WebhookOrderingHost.FailuresBeforePause);
        var sentBeforePause = receiver.Received.Count;
        sentBeforePause.ShouldBe(WebhookOrderingHost.FailuresBeforePause);
        await Task.Delay(TimeSpan.FromSeconds(2.5), TestContext.Current.CancellationToken); // more than twice the longest retry wait
        receiver.Received.Count.ShouldBe(sentBeforePause, "a paused subscription is sent nothing");

        Volatile.Write(ref failing, false);
        using var resumed = await buyer.Client.PostAsync($"/v1/webhooks/subscriptions/{subscription.Subscription.Id}/resume", null);
        resumed.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await resumed.Content.ReadFromJsonAsync<WebhookBuyer.Subscription>(OrderingHost.Json))!.State.ShouldBe("Active");

        var received = await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 2);
        received.Select(r => r.To).ShouldBe(["Screening", "Cancelled"]);
    }

    [Fact]
    public async Task A_tenant_can_pause_and_resume_its_subscription_and_a_delivery_made_while_paused_waits_for_the_resume()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        using var buyer = Buyer("hook-manual");
        var subscription = await buyer.SubscribeAsync(receiver.Url);
        using var pause = await buyer.Client.PostAsync($"/v1/webhooks/subscriptions/{subscription.Subscription.Id}/pause", null);
        var paused = (await pause.Content.ReadFromJsonAsync<WebhookBuyer.Subscription>(OrderingHost.Json))!;
        (paused.State, paused.PausedBecause).ShouldBe(("Paused", "Paused by the tenant."));

        var reservation = await buyer.SubmitAndCancelAsync();
        await Eventually.Until(async () => (await buyer.DeliveriesAsync(subscription.Subscription.Id)).Count == 2, "both changes to be in the log");
        receiver.Received.ShouldBeEmpty();

        using var resume = await buyer.Client.PostAsync($"/v1/webhooks/subscriptions/{subscription.Subscription.Id}/resume", null);
        resume.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 2)).Select(r => r.To).ShouldBe(["Screening", "Cancelled"]);
    }

    [Fact]
    public async Task A_replay_sends_a_delivered_event_again_under_the_same_id_with_a_valid_signature_and_is_logged_as_a_replay()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        using var buyer = Buyer("hook-replay");
        var subscription = await buyer.SubscribeAsync(receiver.Url);
        var reservation = await buyer.SubmitAndCancelAsync();
        var first = (await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 2))[0];
        var original = (await buyer.DeliveriesAsync(subscription.Subscription.Id))[0];

        using var replay = await buyer.Client.PostAsync(
            $"/v1/webhooks/subscriptions/{subscription.Subscription.Id}/deliveries/{original.Id}/replay", null);

        replay.StatusCode.ShouldBe(HttpStatusCode.Accepted, await replay.Content.ReadAsStringAsync());
        var queued = (await replay.Content.ReadFromJsonAsync<WebhookBuyer.Delivery>(OrderingHost.Json))!;
        (queued.ReplayOf, queued.EventId).ShouldBe((original.Id, original.EventId));
        var again = (await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 3))[2];
        (again.Id, again.Body).ShouldBe((first.Id, first.Body));
        again.SignatureVerifies(subscription.Secret).ShouldBeTrue();
        var log = await buyer.DeliveriesAsync(subscription.Subscription.Id);
        log.Count.ShouldBe(3);
        (log[2].Id, log[2].Status, log[2].ReplayOf).ShouldBe((queued.Id, "Delivered", (Guid?)original.Id));
    }

    [Fact]
    public async Task A_buyer_can_neither_see_nor_act_on_another_buyers_subscription_and_is_never_sent_another_buyers_changes()
    {
        await using var acmeReceiver = await new WebhookReceiver().StartAsync();
        await using var rivalReceiver = await new WebhookReceiver().StartAsync();
        using var acme = Buyer("hook-acme");
        using var rival = Buyer("hook-rival");
        var acmes = await acme.SubscribeAsync(acmeReceiver.Url);
        await rival.SubscribeAsync(rivalReceiver.Url);
        var acmeReservation = await acme.SubmitAndCancelAsync();
        var rivalReservation = await rival.SubmitAndCancelAsync();
        await WebhookBuyer.AcceptedAsync(acmeReceiver, acmeReservation, count: 2);
        await WebhookBuyer.AcceptedAsync(rivalReceiver, rivalReservation, count: 2);
        var acmeDelivery = (await acme.DeliveriesAsync(acmes.Subscription.Id))[0];
        var path = $"/v1/webhooks/subscriptions/{acmes.Subscription.Id}";

        foreach (var (method, uri) in new[]
        {
            (HttpMethod.Get, path), (HttpMethod.Get, $"{path}/deliveries"), (HttpMethod.Post, $"{path}/deliveries/{acmeDelivery.Id}/replay"),
            (HttpMethod.Post, $"{path}/pause"), (HttpMethod.Post, $"{path}/resume"), (HttpMethod.Delete, path),
        })
        {
            using var response = await rival.Client.SendAsync(new HttpRequestMessage(method, uri));
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, $"{method} {uri}");
            response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        }

        using var rivals = JsonDocument.Parse(await rival.Client.GetStringAsync("/v1/webhooks/subscriptions"));
        rivals.RootElement.GetProperty("subscriptions").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()).ShouldNotContain(acmes.Subscription.Id);
        (await acme.SubscriptionAsync(acmes.Subscription.Id)).State.ShouldBe("Active", "the rival's pause did nothing");
        (await acme.DeliveriesAsync(acmes.Subscription.Id)).Count.ShouldBe(2, "the rival's replay did nothing");
        acmeReceiver.Received.ShouldAllBe(r => r.ReservationId == acmeReservation);
        rivalReceiver.Received.ShouldAllBe(r => r.ReservationId == rivalReservation);
    }

    [Fact]
    public async Task A_subscription_is_listed_read_and_deleted_by_its_tenant_and_a_tenant_has_at_most_the_configured_number()
    {
        using var buyer = Buyer("hook-crud");
        var made = new List<Guid>();
        for (var i = 0; i < WebhookOrderingHost.MaxSubscriptionsPerTenant; i++)
        {
            made.Add((await buyer.SubscribeAsync($"https://hooks.example.com/brokering/{i}", "Confirmed", "Cancelled")).Subscription.Id);
        }

        using (var over = await buyer.Client.PostAsJsonAsync("/v1/webhooks/subscriptions",
            new { url = "https://hooks.example.com/one-too-many", eventTypes = WebhookBuyer.StatusChanged }))
        {
            over.StatusCode.ShouldBe(HttpStatusCode.Conflict);
            over.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        }

        using var list = JsonDocument.Parse(await buyer.Client.GetStringAsync("/v1/webhooks/subscriptions"));
        list.RootElement.GetProperty("subscriptions").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()).ShouldBe(made);
        using var one = JsonDocument.Parse(await buyer.Client.GetStringAsync($"/v1/webhooks/subscriptions/{made[0]}"));
        one.RootElement.GetProperty("statuses").EnumerateArray().Select(s => s.GetString()).ShouldBe(["Confirmed", "Cancelled"]);
        one.RootElement.TryGetProperty("secret", out _).ShouldBeFalse("the secret is shown once, at creation");

        using (var deleted = await buyer.Client.DeleteAsync($"/v1/webhooks/subscriptions/{made[0]}"))
        {
            deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        }

        using (var gone = await buyer.Client.GetAsync($"/v1/webhooks/subscriptions/{made[0]}"))
        {
            gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        }

        await buyer.SubscribeAsync("https://hooks.example.com/brokering/again");
    }

    [Fact]
    public async Task A_subscription_with_nothing_new_in_its_feed_is_left_alone_by_the_dispatchers_passes()
    {
        // A pass that locked every subscription to look at its feed would cost a transaction per subscription every
        // poll interval, on every replica, however idle. A row lock leaves its locker's id in the row's xmax, so an
        // idle subscription the passes never touched still has none.
        await using var receiver = await new WebhookReceiver().StartAsync();
        using var idle = Buyer("hook-idle");
        var untouched = await idle.SubscribeAsync("https://hooks.example.com/brokering/idle");
        using var busy = Buyer("hook-busy");
        await busy.SubscribeAsync(receiver.Url);

        var reservation = await busy.SubmitAndCancelAsync();
        await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 2);
        await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken); // a few more passes, all idle

        await using var connection = new NpgsqlConnection(host.Database);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("SELECT xmax::text FROM webhook_subscriptions WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", untouched.Subscription.Id);
        (await command.ExecuteScalarAsync(TestContext.Current.CancellationToken)).ShouldBe("0", "no pass locked the idle subscription");
    }

    [Fact]
    public async Task Only_transitions_into_the_statuses_a_subscription_names_are_delivered()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        using var buyer = Buyer("hook-filter");
        await buyer.SubscribeAsync(receiver.Url, "Cancelled");

        var reservation = await buyer.SubmitAndCancelAsync();

        (await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 1)).Single().To.ShouldBe("Cancelled");
    }

    [Theory]
    [InlineData("""{"url":"ftp://hooks.example.com/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"http://hooks.example.com/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://10.0.0.7/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://192.168.1.20/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://172.16.0.1/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://169.254.169.254/latest/meta-data","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://[fd00::1]/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://[::ffff:10.0.0.1]/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://metadata.google.internal/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://intranet/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://user:secret@hooks.example.com/x","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"not a url","eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"eventTypes":["reservation.status_changed"]}""", "url")]
    [InlineData("""{"url":"https://hooks.example.com/x"}""", "eventTypes")]
    [InlineData("""{"url":"https://hooks.example.com/x","eventTypes":["reservation.created"]}""", "eventTypes[0]")]
    [InlineData("""{"url":"https://hooks.example.com/x","eventTypes":["reservation.status_changed"],"statuses":["Held","Bogus"]}""", "statuses[1]")]
    public async Task A_bad_subscription_is_refused_as_a_problem_naming_the_field(string body, string field)
    {
        using var buyer = Buyer("hook-bad");

        using var response = await buyer.Client.PostAsync("/v1/webhooks/subscriptions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.RootElement.ToString());
    }

    [Theory]
    [InlineData(2049, "url")]
    [InlineData(201, "description")]
    public async Task An_over_long_url_or_description_is_refused_naming_the_field(int length, string field)
    {
        using var buyer = Buyer("hook-long");
        var url = field == "url" ? "https://hooks.example.com/" + new string('a', length - 26) : "https://hooks.example.com/x";
        var description = field == "description" ? new string('d', length) : null;

        using var response = await buyer.Client.PostAsJsonAsync("/v1/webhooks/subscriptions",
            new { url, eventTypes = WebhookBuyer.StatusChanged, description });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.RootElement.ToString());
    }

    // A well-formed secret that is not any subscription's.
    private static readonly string WebhookSecretOfAnotherSubscription = "whsec_" + Convert.ToBase64String(new byte[32]);

    private WebhookBuyer Buyer(string name) => new(host.ClientWith(TestTokens.Buyer(Sagas.NewBuyer(name))));
}
