using System.Net;
using Brokering.Client;
using Brokering.Client.Webhooks;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The buyer client's webhook subscriptions (<see cref="BuyerClient.Webhooks"/>) against the real ordering service, with a
/// real HTTP receiver in the test: what a procurement system would do to be told of its reservations' changes. The
/// status codes and problem documents of the raw REST API are proved in <see cref="WebhookDeliveryTests"/>.
/// </summary>
public sealed class BuyerClientWebhookTests(WebhookOrderingHost host) : IClassFixture<WebhookOrderingHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_buyer_subscribes_with_the_client_receives_its_changes_signed_with_the_secret_it_was_given_and_reads_and_replays_its_log()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        var client = ClientFor(Sagas.NewBuyer("client-hook"));

        var created = await client.Webhooks.CreateAsync(
            new NewWebhookSubscription(receiver.Url, [BuyerWebhookEvents.ReservationStatusChanged], Description: "procurement"), Ct);
        var reservation = await SubmitAndCancelAsync(client);

        var received = await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 2);
        var verifier = new WebhookSignatureVerifier(created.Secret);
        received.Select(r => verifier.ReadVerified(r.Id, r.Timestamp, r.Signature, r.Body).Data.To)
            .ShouldBe([ReservationStatus.Screening, ReservationStatus.Cancelled], "each delivery verifies with the secret the client was given");
        (created.Subscription.State, created.Subscription.Description, created.Subscription.EventTypes.Single())
            .ShouldBe(("Active", (string?)"procurement", BuyerWebhookEvents.ReservationStatusChanged));

        var log = await Eventually.Until(() => client.Webhooks.DeliveriesAsync(created.Subscription.Id, cancellationToken: Ct),
            page => page.Deliveries.Count == 2 && page.Deliveries.All(d => d.Status == "Delivered"), WebhookBuyer.Patience, "both deliveries logged as delivered");
        log.Deliveries.Select(d => d.EventId).ShouldBe(received.Select(r => r.Id).Reverse(), "the log is newest first, under the ids sent");
        var older = await client.Webhooks.DeliveriesAsync(created.Subscription.Id, limit: 1, cancellationToken: Ct);
        var oldest = await client.Webhooks.DeliveriesAsync(created.Subscription.Id, before: older.Next, limit: 1, cancellationToken: Ct);
        oldest.Deliveries.Single().Id.ShouldBe(log.Deliveries[1].Id, "the next page is read with the page's Next");

        var replay = await client.Webhooks.ReplayAsync(created.Subscription.Id, log.Deliveries[1].Id, Ct);

        (replay.ReplayOf, replay.EventId, replay.Status).ShouldBe((log.Deliveries[1].Id, received[0].Id, "Pending"));
        var again = (await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 3))[2];
        (again.Id, again.Body).ShouldBe((received[0].Id, received[0].Body), "the replay sends the same event under the same id");
    }

    [Fact]
    public async Task A_buyer_lists_reads_pauses_resumes_and_deletes_its_subscription_with_the_client_and_refusals_are_typed()
    {
        var client = ClientFor(Sagas.NewBuyer("client-hook-crud"));
        var rival = ClientFor(Sagas.NewBuyer("client-hook-rival"));
        var created = await client.Webhooks.CreateAsync(new NewWebhookSubscription("https://hooks.example.com/client",
            [BuyerWebhookEvents.ReservationStatusChanged], Statuses: [ReservationStatus.Held, ReservationStatus.Confirmed]), Ct);
        var id = created.Subscription.Id;

        (await client.Webhooks.ListAsync(Ct)).Select(s => s.Id).ShouldBe([id]);
        (await client.Webhooks.GetAsync(id, Ct)).Statuses.ShouldBe([ReservationStatus.Held, ReservationStatus.Confirmed]);
        var paused = await client.Webhooks.PauseAsync(id, Ct);
        (paused.IsPaused, paused.PausedBecause).ShouldBe((true, "Paused by the tenant."));
        (await client.Webhooks.ResumeAsync(id, Ct)).IsPaused.ShouldBeFalse();
        (await rival.Webhooks.ListAsync(Ct)).ShouldBeEmpty("another buyer's subscriptions are not listed");
        (await Should.ThrowAsync<BrokeringApiException>(() => rival.Webhooks.PauseAsync(id, Ct))).StatusCode.ShouldBe(HttpStatusCode.NotFound);

        await client.Webhooks.DeleteAsync(id, Ct);

        var gone = await Should.ThrowAsync<BrokeringApiException>(() => client.Webhooks.GetAsync(id, Ct));
        (gone.StatusCode, gone.Problem!.Title).ShouldBe((HttpStatusCode.NotFound, "Subscription not found."));
        var invalid = await Should.ThrowAsync<BrokeringApiException>(() => client.Webhooks.CreateAsync(
            new NewWebhookSubscription("http://hooks.example.com/plain", ["reservation.created"]), Ct));
        invalid.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        invalid.Errors.Keys.Order().ShouldBe(["eventTypes[0]", "url"]);
    }

    private static async Task<Guid> SubmitAndCancelAsync(BuyerClient client)
    {
        // Compliance is not running: a submission moves to Screening and stays there until cancelled.
        var submitted = await client.SubmitAsync(new NewReservation(
            "PO-CLIENT-HOOK", new EndUser("Acme", "US"), "US", FillPolicy.AllOrNone, ConfirmationMode.Manual,
            [new NewReservationLine("NVIDIA-H20", 1, 1m, "USD")]), cancellationToken: Ct);
        await Eventually.Until(() => client.GetAsync(submitted.Id, Ct), r => r.Status == ReservationStatus.Screening, WebhookBuyer.Patience, "Screening");
        await client.CancelAsync(submitted.Id, "webhook client test", Ct);
        await Eventually.Until(() => client.GetAsync(submitted.Id, Ct), r => r.Status == ReservationStatus.Cancelled, WebhookBuyer.Patience, "Cancelled");
        return submitted.Id;
    }

    private BuyerClient ClientFor(string buyer) =>
        new(host.CreateClient(), _ => ValueTask.FromResult(TestTokens.Buyer(buyer)), new BrokeringClientOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50) });
}
