using System.Net;
using Brokering.Client;
using Brokering.Client.Webhooks;
using Brokering.Testing;
using ClientOutcome = Brokering.Client.StockUpdateOutcome;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The .NET distributor client (<c>clients/Brokering.Client</c>) against the real inventory service: what a
/// distributor's ERP would do with it (publish stock, read its holds and orders, be told of them by webhook). Holds are
/// placed and committed through the real ledger over gRPC, as ordering does. The raw REST answers (status codes,
/// problem documents) are proved in <see cref="DistributorWebhookTests"/> and the authorisation and cross-tenant matrices.
/// </summary>
public sealed class DistributorClientTests(InventoryFixture fixture)
{
    private const string H100 = "NVIDIA-H100-SXM5-80GB";
    private const string A800 = "NVIDIA-A800-SXM4-80GB";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_distributor_publishes_a_snapshot_and_a_delta_and_a_resent_update_is_applied_once()
    {
        var distributor = await fixture.NewDistributorAsync();
        var feed = ClientFor(distributor, TestTokens.Distributor(distributor));

        var snapshot = await feed.PublishSnapshotAsync(1, [new StockLevel(H100, "SG1", QuantityOnHand: 40, UnitPrice: 31_000m, Currency: "USD")], Ct);
        var delta = await feed.PublishDeltaAsync(2, [new StockLevel(H100, "SG1", QuantityChange: -5)], Ct);
        var resent = await feed.PublishDeltaAsync(2, [new StockLevel(H100, "SG1", QuantityChange: -5)], Ct);

        snapshot.Outcome.ShouldBe(ClientOutcome.Applied);
        snapshot.ItemsApplied.ShouldBe(1);
        delta.Outcome.ShouldBe(ClientOutcome.Applied);
        resent.Outcome.ShouldBe(ClientOutcome.Duplicate);
        resent.PreviousSequence.ShouldBe(2);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(35);
    }

    [Fact]
    public async Task A_late_delta_below_a_snapshot_is_answered_superseded_and_a_missing_one_is_applied()
    {
        var distributor = await fixture.NewDistributorAsync();
        var feed = ClientFor(distributor, TestTokens.Distributor(distributor));
        await feed.PublishSnapshotAsync(5, [new StockLevel(H100, "SG1", QuantityOnHand: 40, UnitPrice: 31_000m, Currency: "USD")], Ct);

        var late = await feed.PublishDeltaAsync(4, [new StockLevel(H100, "SG1", QuantityChange: -5)], Ct);
        var ahead = await feed.PublishDeltaAsync(7, [new StockLevel(H100, "SG1", QuantityChange: -1)], Ct);
        var missing = await feed.PublishDeltaAsync(6, [new StockLevel(H100, "SG1", QuantityChange: -2)], Ct);

        late.Outcome.ShouldBe(ClientOutcome.Superseded);
        (ahead.Outcome, ahead.GapDetected).ShouldBe((ClientOutcome.Applied, true));
        ahead.Missing.ShouldBe([new Brokering.Client.MissingSequences(6, 6)], "the client is told which sequence to resend");
        (missing.Outcome, missing.GapHealed).ShouldBe((ClientOutcome.Applied, true));
        missing.Missing.ShouldBeEmpty();
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(37);
    }

    [Fact]
    public async Task An_invalid_update_surfaces_as_a_typed_exception_naming_the_bad_field()
    {
        var distributor = await fixture.NewDistributorAsync();
        var feed = ClientFor(distributor, TestTokens.Distributor(distributor));

        var refusal = await Should.ThrowAsync<BrokeringApiException>(() =>
            feed.PublishSnapshotAsync(1, [new StockLevel(H100, "SG1", QuantityOnHand: -1, UnitPrice: 31_000m, Currency: "USD")], Ct));

        refusal.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        refusal.Errors.Keys.ShouldBe(["items[0].quantityOnHand"]);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_distributor_cannot_publish_another_distributor_s_feed()
    {
        var distributor = await fixture.NewDistributorAsync();
        var other = await fixture.NewDistributorAsync();
        var feed = ClientFor(distributor, TestTokens.Distributor(other));

        var refusal = await Should.ThrowAsync<BrokeringApiException>(() =>
            feed.PublishSnapshotAsync(1, [new StockLevel(H100, "SG1", QuantityOnHand: 5, UnitPrice: 31_000m, Currency: "USD")], Ct));

        refusal.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        refusal.Problem!.Title.ShouldBe("Not your feed.");
    }

    [Fact]
    public async Task Over_grpc_a_distributor_publishes_several_updates_on_one_stream_and_the_stream_sent_again_is_applied_once()
    {
        var distributor = await fixture.NewDistributorAsync();
        var feed = GrpcClientFor(distributor, TestTokens.Distributor(distributor));
        StockUpdate[] updates =
        [
            new(1, StockUpdateKind.Snapshot, [new StockLevel(H100, "SG1", QuantityOnHand: 40, UnitPrice: 31_000.5m, Currency: "USD")]),
            new(2, StockUpdateKind.Delta, [new StockLevel(H100, "SG1", QuantityChange: -5)]),
            new(4, StockUpdateKind.Delta, [new StockLevel(H100, "SG1", QuantityChange: -1)]),
        ];

        var first = await feed.PublishAsync(updates, Ct);
        var again = await feed.PublishAsync(updates, Ct);

        first.Select(r => (r.Sequence, r.Outcome)).ShouldBe([(1L, ClientOutcome.Applied), (2L, ClientOutcome.Applied), (4L, ClientOutcome.Applied)]);
        first[2].GapDetected.ShouldBeTrue();
        first[2].Missing.ShouldBe([new Brokering.Client.MissingSequences(3, 3)], "the client is told which sequence to resend");
        again.Select(r => r.Outcome).ShouldAllBe(outcome => outcome == ClientOutcome.Duplicate || outcome == ClientOutcome.Superseded);
        var level = await fixture.LevelAsync(distributor, H100, "SG1");
        level.OnHand.ShouldBe(34, "each update applied once");
        (await feed.PublishAsync(new StockUpdate(3, StockUpdateKind.Delta, [new StockLevel(H100, "SG1", QuantityChange: -2)]), Ct)).GapHealed.ShouldBeTrue();
    }

    [Fact]
    public async Task Over_grpc_a_bad_item_is_named_by_its_path_a_price_the_wire_cannot_carry_is_refused_before_sending_and_another_distributors_token_is_refused()
    {
        var distributor = await fixture.NewDistributorAsync();
        var other = await fixture.NewDistributorAsync();
        var feed = GrpcClientFor(distributor, TestTokens.Distributor(distributor));

        var partial = await feed.PublishAsync(new StockUpdate(1, StockUpdateKind.Snapshot,
        [
            new StockLevel(H100, "SG1", QuantityOnHand: 10, UnitPrice: 31_000m, Currency: "USD"),
            new StockLevel(A800, "SG1", QuantityOnHand: 10, UnitPrice: 9_000m, Currency: "USD", LeadTimeDays: 5000),
        ]), Ct);
        var tooFine = await Should.ThrowAsync<ArgumentException>(() => feed.PublishAsync(new StockUpdate(2, StockUpdateKind.Snapshot,
            [new StockLevel(H100, "SG1", QuantityOnHand: 10, UnitPrice: 0.0000000001m, Currency: "USD")]), Ct));
        var notMine = await Should.ThrowAsync<BrokeringRpcException>(() => GrpcClientFor(distributor, TestTokens.Distributor(other))
            .PublishAsync(new StockUpdate(2, StockUpdateKind.Delta, [new StockLevel(H100, "SG1", QuantityChange: -1)]), Ct));

        (partial.Outcome, partial.ItemsApplied).ShouldBe((ClientOutcome.Applied, 1));
        partial.ItemErrors.Select(e => (e.Index, e.Field)).ShouldBe([(1, "items[1].leadTimeDays")]);
        tooFine.Message.ShouldContain("updates[0].items[0].unitPrice");
        notMine.StatusCode.ShouldBe(Grpc.Core.StatusCode.PermissionDenied);
        (await fixture.LevelAsync(distributor, H100, "SG1")).OnHand.ShouldBe(10, "neither refused update changed anything");
    }

    [Fact]
    public async Task A_distributor_reads_its_own_holds_and_orders_with_the_client_filtered_and_page_by_page()
    {
        var distributor = await fixture.NewDistributorAsync();
        var rival = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 50, Price: 9000m), new Stock(H100, "HK", 50, Price: 30000m));
        await fixture.SnapshotAsync(rival, 1, new Stock(A800, "SG1", 50));
        var ordered = Guid.NewGuid();
        var held = Guid.NewGuid();
        await fixture.A.PlaceInFullAsync(ordered, "acme-servers", TimeSpan.FromMinutes(10), InventoryFixture.Hold(distributor, A800, "SG1", 5), InventoryFixture.Hold(distributor, H100, "HK", 2),
            InventoryFixture.Hold(rival, A800, "SG1", 7));
        await fixture.A.CommitAsync(ordered);
        await fixture.A.PlaceInFullAsync(held, "globex", TimeSpan.FromMinutes(10), InventoryFixture.Hold(distributor, A800, "SG1", 3));
        var client = ClientFor(distributor, TestTokens.Distributor(distributor));

        var holds = await ToListAsync(client.ListAllHoldsAsync(cancellationToken: Ct));
        var stillHeld = await client.ListHoldsAsync(new DistributorListFilter(Statuses: [DistributorHoldStatus.Held]), cancellationToken: Ct);
        var firstPage = await client.ListHoldsAsync(limit: 2, cancellationToken: Ct);
        var secondPage = await client.ListHoldsAsync(cursor: firstPage.Next, limit: 2, cancellationToken: Ct);
        var orders = await client.ListOrdersAsync(cancellationToken: Ct);

        holds.Select(h => (h.ReservationId, h.Sku, h.Units, h.Status)).OrderBy(h => h.Units).ToList().ShouldBe(
            [(ordered, H100, 2L, DistributorHoldStatus.Committed), (held, A800, 3L, DistributorHoldStatus.Held), (ordered, A800, 5L, DistributorHoldStatus.Committed)],
            "the distributor's three holds, not the rival's");
        stillHeld.Holds.Select(h => (h.ReservationId, h.BuyerOrganisation)).ShouldBe([(held, (string?)"globex")]);
        firstPage.Holds.Concat(secondPage.Holds).Select(h => h.HoldId).ShouldBe(holds.Select(h => h.HoldId), "the pages read on from Next");
        secondPage.Next.ShouldBeNull();
        var order = orders.Orders.ShouldHaveSingleItem();
        (order.ReservationId, order.BuyerOrganisation, order.Units).ShouldBe((ordered, (string?)"acme-servers", 7L));
        order.Lines.Select(l => (l.Sku, l.Warehouse, l.Units, l.UnitPrice)).OrderBy(l => l.Units)
            .ShouldBe(new (string, string, long, decimal)[] { (H100, "HK", 2L, 30000m), (A800, "SG1", 5L, 9000m) });
        (await ToListAsync(ClientFor(rival, TestTokens.Distributor(rival)).ListAllOrdersAsync(new DistributorListFilter(Sku: H100), Ct)))
            .ShouldBeEmpty("the rival has no order with a line of the distributor's H100");
        var refusal = await Should.ThrowAsync<BrokeringApiException>(() => client.ListHoldsAsync(new DistributorListFilter(Statuses: ["lost"]), cancellationToken: Ct));
        (refusal.StatusCode, refusal.Errors.Keys.Single()).ShouldBe((HttpStatusCode.BadRequest, "status"));
    }

    [Fact]
    public async Task A_distributor_subscribes_with_the_client_receives_its_holds_signed_reads_its_log_replays_pauses_and_deletes()
    {
        await using var receiver = await new WebhookReceiver().StartAsync();
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 50));
        var client = ClientFor(distributor, TestTokens.Distributor(distributor));
        var created = await client.Webhooks.CreateAsync(
            new NewWebhookSubscription(receiver.Url, [DistributorWebhookEvents.HoldsPlaced, DistributorWebhookEvents.OrderPlaced]), Ct);
        var id = created.Subscription.Id;
        var reservation = Guid.NewGuid();

        await fixture.A.PlaceInFullAsync(reservation, "acme-servers", TimeSpan.FromMinutes(10), InventoryFixture.Hold(distributor, A800, "SG1", 4));
        await fixture.A.CommitAsync(reservation);

        var received = await Eventually.Latest(() => Task.FromResult(receiver.Received.Where(r => r.Accepted && r.ReservationId == reservation).ToList()),
            seen => seen.Count >= 2, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        received.Select(r => r.Type).ShouldBe([DistributorWebhookEvents.HoldsPlaced, DistributorWebhookEvents.OrderPlaced]);
        var verifier = new WebhookSignatureVerifier(created.Secret);
        received.ShouldAllBe(r => verifier.Verify(r.Id, r.Timestamp, r.Signature, r.Body) == WebhookVerification.Valid);
        var log = await Eventually.Until(() => client.Webhooks.DeliveriesAsync(id, cancellationToken: Ct),
            page => page.Deliveries.Count == 2 && page.Deliveries.All(d => d.Status == "Delivered"), TimeSpan.FromSeconds(30), "both deliveries logged as delivered");
        log.Deliveries.Select(d => d.EventType).ShouldBe([DistributorWebhookEvents.OrderPlaced, DistributorWebhookEvents.HoldsPlaced], "the log is newest first");

        var replay = await client.Webhooks.ReplayAsync(id, log.Deliveries[1].Id, Ct);
        var again = await Eventually.Latest(() => Task.FromResult(receiver.Received.Where(r => r.Accepted && r.ReservationId == reservation).ToList()),
            seen => seen.Count >= 3, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));

        (replay.ReplayOf, replay.EventId).ShouldBe((log.Deliveries[1].Id, received[0].Id));
        (again[2].Id, again[2].Body).ShouldBe((received[0].Id, received[0].Body), "the replay sends the placement again under its id");
        (await client.Webhooks.PauseAsync(id, Ct)).IsPaused.ShouldBeTrue();
        (await client.Webhooks.ResumeAsync(id, Ct)).IsPaused.ShouldBeFalse();
        var listed = (await client.Webhooks.ListAsync(Ct)).ShouldHaveSingleItem();
        (listed.Id, listed.EventTypes.Count, (await client.Webhooks.GetAsync(id, Ct)).ConsecutiveFailures).ShouldBe((id, 2, 0));
        await client.Webhooks.DeleteAsync(id, Ct);
        (await client.Webhooks.ListAsync(Ct)).ShouldBeEmpty();
        (await Should.ThrowAsync<BrokeringApiException>(() => client.Webhooks.DeleteAsync(id, Ct))).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }

    private DistributorGrpcClient GrpcClientFor(string distributor, string token) =>
        new(fixture.A.FeedChannel, distributor, _ => ValueTask.FromResult(token));

    private DistributorClient ClientFor(string distributor, string token) =>
        new(fixture.A.CreateClient(), distributor, _ => ValueTask.FromResult(token));
}
