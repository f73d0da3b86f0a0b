using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Brokering.Testing.Browser;
using Brokering.Testing.Installation;
using Microsoft.Playwright;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>The three services with a screening deadline short enough that its countdown ticks by the second.</summary>
public sealed class ReviewConsoleSystem() : BrokeringSystem(new BrokeringSystemOptions
{
    Environment = new Dictionary<string, string> { ["Ordering__ScreeningDeadline"] = ReviewConsoleTests.ScreeningDeadline.ToString("c") },
}), IAsyncLifetime
{
    private Task? stock;

    /// <summary>Arrow's stock of the SKU the tests reserve, published once for whichever test runs first.</summary>
    public Task StockOnceAsync(string sku, CancellationToken cancellationToken)
    {
        lock (this)
        {
            return stock ??= this.PublishSnapshotAsync("arrow", 1, sku, "HKG-1", 100, 31000m, cancellationToken);
        }
    }
}

/// <summary>
/// The console's review desk against the three real services: reservations made potential matches through the public
/// API are ruled on in the browser by a compliance officer, whose rulings compliance records under the officer's own
/// name and ordering carries out; an operator without the officer role sees the queue and cannot rule.
/// </summary>
public sealed partial class ReviewConsoleTests(ReviewConsoleSystem system) : IClassFixture<ReviewConsoleSystem>
{
    public static readonly TimeSpan ScreeningDeadline = TimeSpan.FromMinutes(14);

    // Scores in the default review band against "Inspur Group Co., Ltd." (see ReviewDeskTests).
    private const string NearMiss = "Inspor Group";
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    // A ruling screens the reservation again in compliance: on two busy cores that can take longer than Playwright's 5 s.
    private const float Ruling = 30_000;

    [Fact]
    public async Task An_officer_sees_each_potential_match_counting_down_with_its_evidence_clears_one_confirms_another_and_keeps_a_reason_another_officer_beat()
    {
        var ct = TestContext.Current.CancellationToken;
        await system.StockOnceAsync(Sku, ct);
        using var buyer = system.Buyer("review-console-buyer");
        var toClear = await SubmitAsync(buyer, "PO-RC-1", ct);
        var toConfirm = await SubmitAsync(buyer, "PO-RC-2", ct);
        var raced = await SubmitAsync(buyer, "PO-RC-3", ct);
        foreach (var location in new[] { toClear, toConfirm, raced })
        {
            await WaitForStatusAsync(buyer, location, "UnderReview", ct);
        }

        await using var chromium = await HeadlessChromium.LaunchAsync("review-desk");
        var page = await chromium.NewConsolePageAsync(system.Ordering.Rest, OfficerToken("officer-ana"));
        await page.GotoAsync("/ops/reviews");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Review desk", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("#live")).ToHaveAttributeAsync("data-state", "live");
        await Expect(page.Locator("#nav-review-count")).ToBeVisibleAsync();

        // Each potential match with its countdown to the screening deadline (no cutoff applies to the US) and its evidence.
        var queue = await ComplianceQueueAsync(ct);
        var first = Card(page, toClear);
        var due = queue[Id(toClear)].GetProperty("due").GetString()!;
        queue[Id(toClear)].GetProperty("decideBy").GetString().ShouldBe(due);
        var countdown = first.Locator(".countdown");
        await Expect(countdown).ToHaveAttributeAsync("data-cutoff", due);
        await Expect(countdown).ToHaveAttributeAsync("data-level", "soon");
        await Expect(countdown).ToHaveTextAsync(Countdown());
        var before = await countdown.TextContentAsync();
        await Expect(countdown).Not.ToHaveTextAsync(before!, new() { Timeout = 3000 });
        await Expect(first.Locator(".badge")).ToHaveTextAsync("UnderReview");
        await Expect(first.GetByTestId("party-role")).ToHaveTextAsync("End user");
        await Expect(first.GetByTestId("screened-name")).ToHaveTextAsync(NearMiss);
        await Expect(first.GetByTestId("listed-party")).ToContainTextAsync("Inspur Group Co., Ltd.");
        var score = queue[Id(toClear)].GetProperty("matches")[0].GetProperty("score").GetDouble();
        await Expect(first.GetByTestId("score")).ToHaveTextAsync(score.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture));
        await Expect(first).ToContainTextAsync("review-console-buyer");
        await chromium.ScreenshotAsync(page, "01-review-queue");

        // Clear: a reason is required; the ruling is recorded under the officer's own name.
        await first.GetByRole(AriaRole.Button, new() { Name = "Clear…" }).ClickAsync();
        var clearDialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Clear this potential match?" });
        await clearDialog.GetByRole(AriaRole.Button, new() { Name = "Clear", Exact = true }).ClickAsync();
        await Expect(clearDialog.Locator("#action-error")).ToHaveTextAsync("Give a reason: compliance keeps it with your ruling.");
        await clearDialog.GetByLabel("Reason").FillAsync("A hotel chain in Lisbon, unrelated to the server maker (ticket CO-12).");
        await clearDialog.GetByRole(AriaRole.Button, new() { Name = "Clear", Exact = true }).ClickAsync();
        await Expect(clearDialog).ToBeHiddenAsync(new() { Timeout = Ruling });
        await Expect(page.GetByTestId("ruling-recorded")).ToContainTextAsync($"Cleared by officer-ana: compliance filed Approved for reservation {Id(toClear)}");
        await Expect(first).ToHaveCountAsync(0, new() { Timeout = Ruling });

        // Confirm another.
        var second = Card(page, toConfirm);
        await second.GetByRole(AriaRole.Button, new() { Name = "Confirm match…" }).ClickAsync();
        var confirmDialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Confirm this potential match?" });
        await confirmDialog.GetByLabel("Reason").FillAsync("The Lisbon office is the listed party's (ticket CO-13).");
        await chromium.ScreenshotAsync(page, "02-confirm-dialog");
        await confirmDialog.GetByRole(AriaRole.Button, new() { Name = "Confirm match" }).ClickAsync();
        await Expect(confirmDialog).ToBeHiddenAsync(new() { Timeout = Ruling });
        await Expect(page.GetByTestId("ruling-recorded")).ToContainTextAsync($"Confirmed by officer-ana: compliance filed Denied for reservation {Id(toConfirm)}");
        await Expect(second).ToHaveCountAsync(0, new() { Timeout = Ruling });

        // Another officer rules on the third while this one is writing: the refusal says who ruled, and the reason stays.
        var third = Card(page, raced);
        await third.GetByRole(AriaRole.Button, new() { Name = "Confirm match…" }).ClickAsync();
        const string typed = "Same address as the listed party's Lisbon office (ticket CO-14).";
        await confirmDialog.GetByLabel("Reason").FillAsync(typed);
        using (var otherOfficer = BrokeringSystem.RestClient(system.Ordering, OfficerToken("officer-bo")))
        using (var cleared = await otherOfficer.PostAsJsonAsync(
            new Uri($"/v1/review-desk/{queue[Id(raced)].GetProperty("decisionId").GetString()}/clear", UriKind.Relative),
            new { reason = "Cleared on the phone with the buyer.", reservationId = Id(raced) }, ct))
        {
            cleared.StatusCode.ShouldBe(HttpStatusCode.OK, await cleared.Content.ReadAsStringAsync(ct));
        }

        await confirmDialog.GetByRole(AriaRole.Button, new() { Name = "Confirm match" }).ClickAsync();
        await Expect(confirmDialog.Locator("#action-error")).ToContainTextAsync("was already cleared by officer-bo", new() { Timeout = Ruling });
        await Expect(confirmDialog.GetByLabel("Reason")).ToHaveValueAsync(typed);
        await chromium.ScreenshotAsync(page, "03-already-ruled");
        await confirmDialog.GetByRole(AriaRole.Button, new() { Name = "Back" }).ClickAsync();
        await Expect(third).ToHaveCountAsync(0, new() { Timeout = Ruling });

        // The outcomes, through the public API: the cleared ones go on to Held, the confirmed one is Rejected.
        (await WaitForStatusAsync(buyer, toClear, "Held", ct)).GetProperty("history").EnumerateArray()
            .Select(step => step.GetProperty("to").GetString()).ShouldBe(["Screening", "UnderReview", "Allocating", "Held"]);
        (await WaitForStatusAsync(buyer, toConfirm, "Rejected", ct)).GetProperty("history").EnumerateArray()
            .Select(step => step.GetProperty("to").GetString()).ShouldBe(["Screening", "UnderReview", "Rejected"]);
        await WaitForStatusAsync(buyer, raced, "Held", ct);
    }

    [Fact]
    public async Task An_operator_without_the_officer_role_watches_the_queue_without_the_evidence_and_cannot_rule()
    {
        var ct = TestContext.Current.CancellationToken;
        using var buyer = system.Buyer("review-console-viewer");
        var location = await SubmitAsync(buyer, "PO-RC-VIEW", ct);
        await WaitForStatusAsync(buyer, location, "UnderReview", ct);

        await using var chromium = await HeadlessChromium.LaunchAsync("review-desk-viewer");
        var page = await chromium.NewConsolePageAsync(system.Ordering.Rest, TestTokens.Operator());
        await page.GotoAsync("/ops/reviews");
        var card = Card(page, location);
        await Expect(card.Locator(".countdown")).ToBeVisibleAsync();
        await Expect(card.GetByTestId("screened-name")).ToHaveTextAsync(NearMiss);
        await Expect(card.GetByTestId("listed-party")).ToHaveTextAsync("officers only");
        await Expect(card).Not.ToContainTextAsync("Inspur");
        await Expect(page.GetByTestId("viewer-notice")).ToBeVisibleAsync();
        await Expect(card.Locator("[data-ruling]")).ToHaveCountAsync(0);
        await chromium.ScreenshotAsync(page, "01-viewer");

        // Nor can the operator's token rule through the API the console uses.
        var decisionId = await card.GetAttributeAsync("data-decision");
        using var operatorClient = system.Operator();
        using var refused = await operatorClient.PostAsJsonAsync(new Uri($"/v1/review-desk/{decisionId}/clear", UriKind.Relative),
            new { reason = "Looks fine to me.", reservationId = Id(location) }, ct);
        refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden);

        (await ComplianceQueueAsync(ct)).ShouldContainKey(Id(location));
        (await buyer.GetFromJsonAsync<JsonElement>(location, ct)).GetProperty("status").GetString().ShouldBe("UnderReview");
    }

    [Fact]
    public async Task An_officer_without_the_ops_role_signs_in_to_the_review_desk_alone_sees_the_evidence_and_clears_a_potential_match()
    {
        var ct = TestContext.Current.CancellationToken;
        await system.StockOnceAsync(Sku, ct);
        using var buyer = system.Buyer("review-console-officer-only");
        var location = await SubmitAsync(buyer, "PO-RC-OFFICER", ct);
        await WaitForStatusAsync(buyer, location, "UnderReview", ct);

        await using var chromium = await HeadlessChromium.LaunchAsync("review-desk-officer-only");
        var page = await chromium.NewConsolePageAsync(system.Ordering.Rest, null);
        await page.GotoAsync("/ops");
        await page.GetByLabel("Access token").FillAsync(TestTokens.For("officer-cy", null, BrokeringRoles.ComplianceOfficer));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Review desk", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Console" }).GetByRole(AriaRole.Link)).ToHaveCountAsync(1);
        await Expect(page.Locator("#nav-review-count")).ToBeVisibleAsync();
        var card = Card(page, location);
        await Expect(card.GetByTestId("listed-party")).ToContainTextAsync("Inspur Group Co., Ltd.");
        await Expect(card.GetByTestId("score")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("viewer-notice")).ToHaveCountAsync(0);
        await chromium.ScreenshotAsync(page, "01-officer-only");

        await card.GetByRole(AriaRole.Button, new() { Name = "Clear…" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Clear this potential match?" });
        await dialog.GetByLabel("Reason").FillAsync("A hotel chain in Lisbon, unrelated to the server maker (ticket CO-21).");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Clear", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("ruling-recorded")).ToContainTextAsync($"Cleared by officer-cy: compliance filed Approved for reservation {Id(location)}",
            new() { Timeout = Ruling });
        await WaitForStatusAsync(buyer, location, "Held", ct);
    }

    private static string OfficerToken(string subject) => TestTokens.For(subject, null, BrokeringRoles.Ops, BrokeringRoles.ComplianceOfficer);

    private static ILocator Card(IPage page, Uri location) => page.Locator($"section[data-reservation=\"{Id(location)}\"]");

    private static string Id(Uri location) => location.ToString().Split('/')[^1];

    private async Task<Dictionary<string, JsonElement>> ComplianceQueueAsync(CancellationToken ct)
    {
        using var officer = system.ComplianceOfficer();
        var queue = await officer.GetFromJsonAsync<JsonElement>("/v1/reviews", ct);
        return queue.GetProperty("reviews").EnumerateArray().ToDictionary(review => review.GetProperty("reservationId").GetString()!);
    }

    private static async Task<Uri> SubmitAsync(HttpClient buyer, string reference, CancellationToken ct)
    {
        using var submitted = await buyer.PostAsJsonAsync("/v1/reservations",
            ScrambleDriver.Reservation(reference, NearMiss, "AllOrNone", "Manual", [new Line(Sku, 10, 32000m)], destination: "US", endUserCountry: "US"), ct);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync(ct));
        return submitted.Headers.Location!;
    }

    private Task<JsonElement> WaitForStatusAsync(HttpClient buyer, Uri location, string status, CancellationToken ct) =>
        ScrambleDriver.WaitForStatusAsync(buyer, location, status, Patience, () => system.Logs, ct);

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    [GeneratedRegex(@"^1[0-3]m \d\ds$")]
    private static partial Regex Countdown();
}
