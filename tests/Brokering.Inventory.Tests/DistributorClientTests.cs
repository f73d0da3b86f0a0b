using System.Net;
using Brokering.Client;
using Brokering.Testing;
using ClientOutcome = Brokering.Client.StockUpdateOutcome;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The .NET distributor client (<c>clients/Brokering.Client</c>) publishing to the real inventory service: what a
/// distributor's ERP would do with it.
/// </summary>
public sealed class DistributorClientTests(InventoryFixture fixture)
{
    private const string H100 = "NVIDIA-H100-SXM5-80GB";

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
        (missing.Outcome, missing.GapHealed).ShouldBe((ClientOutcome.Applied, true));
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

    private DistributorClient ClientFor(string distributor, string token) =>
        new(fixture.A.CreateClient(), distributor, _ => ValueTask.FromResult(token));
}
