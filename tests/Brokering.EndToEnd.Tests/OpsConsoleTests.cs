using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Testing;
using Brokering.Testing.Browser;
using Microsoft.Playwright;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>
/// The ops console against the three real services, with sagas from a real run (screened by compliance,
/// held by inventory): the overview shows stock freshness per distributor, the list filters by state, a
/// saga's page shows its timeline, and a cancel from the console ends the saga Cancelled with inventory's
/// holds released.
/// </summary>
public sealed class OpsConsoleTests(SystemUnderTest system) : IClassFixture<SystemUnderTest>
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private const string Buyer = "console-buyer";
    private const string Fed = "arrow";
    private const string Quiet = "quiet-feeds";
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task An_operator_sees_stock_freshness_filters_live_sagas_reads_a_timeline_and_cancels_one_with_its_holds_released()
    {
        var ct = TestContext.Current.CancellationToken;
        var driver = system.Scramble();
        using var inventoryOps = InventoryClient(TestTokens.Operator());

        // A distributor with a live feed, and one registered that has never sent one (stale).
        await driver.PublishSnapshotAsync(Fed, 1, Sku, "HKG-1", 100, 31000m, ct);

        using (var registered = await inventoryOps.PostAsJsonAsync("/v1/distributors", new { id = Quiet, name = "Quiet Feeds Ltd." }, ct))
        {
            registered.IsSuccessStatusCode.ShouldBeTrue(await registered.Content.ReadAsStringAsync(ct));
        }

        // Live sagas from a real run: two held, one rejected (all or none, and not enough stock is left).
        var body = (string reference, long quantity) => ScrambleDriver.Reservation(reference, "Acme Cloud Inc.", "AllOrNone", "Manual",
            [new Line(Sku, quantity, 32000m)], destination: "US", endUserCountry: "US");
        var toCancel = await driver.SubmitAcceptedAsync(Buyer, body("PO-C1", 40), ct);
        var toKeep = await driver.SubmitAcceptedAsync(Buyer, body("PO-C2", 30), ct);
        (await driver.WaitUntilRestingAsync(Buyer, toCancel, Patience, ct)).GetProperty("status").GetString().ShouldBe("Held");
        (await driver.WaitUntilRestingAsync(Buyer, toKeep, Patience, ct)).GetProperty("status").GetString().ShouldBe("Held");
        var rejected = await driver.SubmitAcceptedAsync(Buyer, body("PO-C3", 500), ct);
        (await driver.WaitUntilEndedAsync(Buyer, rejected, Patience, ct)).GetProperty("status").GetString().ShouldBe("Rejected");
        (await ActiveHoldsAsync(inventoryOps, toCancel, ct)).ShouldBe(40);

        // The ops API carries inventory's view of each feed (ordering asks inventory, at most every few seconds).
        var freshness = await WaitForFreshnessAsync(ct);
        freshness.GetProperty("unavailable").ValueKind.ShouldBe(JsonValueKind.Null);
        freshness.GetProperty("staleAfterSeconds").GetDouble().ShouldBe(15 * 60);
        var feeds = freshness.GetProperty("distributors").EnumerateArray().ToDictionary(d => d.GetProperty("distributorId").GetString()!);
        feeds[Fed].GetProperty("stale").GetBoolean().ShouldBeFalse();
        feeds[Fed].GetProperty("lastSequence").GetInt64().ShouldBe(1);
        feeds[Fed].GetProperty("ageSeconds").GetDouble().ShouldBeLessThan(15 * 60);
        feeds[Quiet].GetProperty("stale").GetBoolean().ShouldBeTrue();
        feeds[Quiet].GetProperty("lastFeedAt").ValueKind.ShouldBe(JsonValueKind.Null);

        await using var chromium = await HeadlessChromium.LaunchAsync("full-system");
        var page = await chromium.NewConsolePageAsync(system.Ordering.Rest, TestTokens.Operator());

        // Overview: counts per state and stock freshness per distributor.
        await page.GotoAsync("/ops");
        await Expect(page.Locator("#live")).ToHaveAttributeAsync("data-state", "live");
        await Expect(page.GetByTestId("count-Held")).ToHaveTextAsync("2");
        await Expect(page.GetByTestId("count-Rejected")).ToHaveTextAsync("1");
        var freshnessPanel = page.GetByRole(AriaRole.Region, new() { Name = "Stock freshness" });
        await Expect(freshnessPanel.GetByTestId($"freshness-{Fed}")).ToHaveTextAsync("Fresh");
        await Expect(freshnessPanel.GetByTestId($"freshness-{Quiet}")).ToHaveTextAsync("Stale");
        // Inventory registers the catalogue's distributors itself: count them as the API reported them.
        await Expect(freshnessPanel.GetByTestId("stale-count")).ToHaveTextAsync(
            $"{feeds.Values.Count(d => d.GetProperty("stale").GetBoolean())} of {feeds.Count} stale");
        await Expect(freshnessPanel.Locator($"tr[data-distributor={Fed}] .feed-age")).ToHaveAttributeAsync("data-level", "fresh");
        await chromium.ScreenshotAsync(page, "01-overview-with-stock-freshness");

        // The list, filtered by state.
        await page.GotoAsync($"/ops/sagas?buyer={Buyer}");
        await Expect(page.Locator("#results-count")).ToHaveTextAsync("3 reservations");
        await page.GetByLabel("State").SelectOptionAsync("Held");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
        await Expect(page.Locator("#results-count")).ToHaveTextAsync("2 reservations");
        await Expect(page.Locator("#results tbody .badge")).ToHaveTextAsync(["Held", "Held"]);
        await chromium.ScreenshotAsync(page, "02-list-filtered-held");

        // A saga's page: the timeline the saga recorded on its way to Held.
        await page.GetByRole(AriaRole.Link, new() { Name = $"Reservation {toCancel}" }).ClickAsync();
        await Expect(page.Locator(".page-head .badge-lg")).ToHaveTextAsync("Held");
        var timeline = page.GetByRole(AriaRole.List, new() { Name = "Timeline, oldest first" });
        await Expect(timeline.Locator("li")).ToHaveCountAsync(3);
        await Expect(timeline.Locator("li").Last).ToContainTextAsync("Allocating→Held on HoldsPlaced");
        var holds = page.GetByRole(AriaRole.Region, new() { Name = "Holds per distributor" });
        await Expect(holds.GetByRole(AriaRole.Rowheader)).ToHaveTextAsync([$"{Fed}40 units"]);
        await chromium.ScreenshotAsync(page, "03-saga-held");

        // Cancel it from the console, with a reason.
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel reservation" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Cancel this reservation?" });
        await dialog.GetByLabel("Reason").FillAsync("Duplicate of PO-C2 (ticket OPS-7)");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel reservation" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(page.Locator(".page-head .badge-lg")).ToHaveTextAsync("Cancelled", new() { Timeout = 120_000 });
        await Expect(timeline.Locator("li[data-kind=OpsAction]")).ToContainTextAsync("Reason: Duplicate of PO-C2 (ticket OPS-7)");
        await Expect(timeline.Locator("li").Last).ToContainTextAsync("Held→Cancelled on CancellationRequested");
        await chromium.ScreenshotAsync(page, "04-saga-cancelled");

        // Inventory released the cancelled reservation's holds; the other one still holds its units.
        await WaitUntilAsync(async () => await ActiveHoldsAsync(inventoryOps, toCancel, ct) == 0, "the cancelled reservation's holds are released", ct);
        var released = await inventoryOps.GetFromJsonAsync<JsonElement>($"/v1/reservations/{toCancel}/holds", ct);
        released.EnumerateArray().Select(h => h.GetProperty("status").GetString()).ShouldAllBe(status => status == "Released");
        (await ActiveHoldsAsync(inventoryOps, toKeep, ct)).ShouldBe(30);
        (await driver.GetAsync(Buyer, toCancel, ct)).GetProperty("status").GetString().ShouldBe("Cancelled");
    }

    private HttpClient InventoryClient(string token)
    {
        var client = new HttpClient { BaseAddress = system.Inventory.Rest, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<long> ActiveHoldsAsync(HttpClient inventory, Guid reservation, CancellationToken ct)
    {
        var holds = await inventory.GetFromJsonAsync<JsonElement>($"/v1/reservations/{reservation}/holds", ct);
        return holds.EnumerateArray().Where(h => h.GetProperty("status").GetString() == "Active").Sum(h => h.GetProperty("quantity").GetInt64());
    }

    private async Task<JsonElement> WaitForFreshnessAsync(CancellationToken ct)
    {
        using var ops = system.Operator();
        JsonElement freshness = default;
        await WaitUntilAsync(async () =>
        {
            var summary = await ops.GetFromJsonAsync<JsonElement>("/v1/ops/summary", ct);
            freshness = summary.GetProperty("stockFreshness");
            return freshness.GetProperty("distributors").EnumerateArray().Any(d => d.GetProperty("distributorId").GetString() == Quiet);
        }, "the summary lists both distributors' feeds", ct);
        return freshness;
    }

    private Task WaitUntilAsync(Func<Task<bool>> condition, string what, CancellationToken ct) =>
        Eventually.Until(condition, what, Patience, TimeSpan.FromMilliseconds(250), details: () => system.Logs, cancellationToken: ct);

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);
}
