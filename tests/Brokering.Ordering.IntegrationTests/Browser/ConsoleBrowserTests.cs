using System.Text.RegularExpressions;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Microsoft.Playwright;

namespace Brokering.Ordering.IntegrationTests.Browser;

/// <summary>
/// The ops console in headless Chromium, as an operator uses it: against ordering on a real port, with
/// sagas present, and actions travelling through the real outbox, broker and saga. Compliance and
/// inventory are not running here, so the sagas were seeded as the saga would have left them; the
/// cancel is the saga's own transition (the release it then asks for cannot reach inventory, which
/// does not change the Cancelled outcome). The cancel test ends a saga of its own, so the tests hold
/// in any order.
/// </summary>
public sealed partial class ConsoleBrowserTests(ConsoleFixture console) : IClassFixture<ConsoleFixture>
{
    [Fact]
    public async Task Without_a_token_the_console_asks_for_one_and_refuses_a_token_without_the_ops_or_officer_role()
    {
        var page = await console.NewPageAsync(signedIn: false);
        await page.GotoAsync("/ops/sagas");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await page.GetByLabel("Access token").FillAsync(TestTokens.Buyer("acme"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#sign-in-error")).ToHaveTextAsync("This token carries neither the ops nor the compliance-officer role.");
        await console.ScreenshotAsync(page, "00-sign-in");

        await page.GetByLabel("Access token").FillAsync(OrderingHost.OperatorToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        // Back where the operator was going, signed in, with the live summary flowing.
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Reservations", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("#who-name")).ToHaveTextAsync("Signed in as operator");
        await Expect(page.Locator("#live")).ToHaveAttributeAsync("data-state", "live");
    }

    [Fact]
    public async Task The_overview_shows_counts_per_state_and_counts_down_to_the_nearest_cutoffs()
    {
        var page = await console.NewPageAsync();
        await page.GotoAsync("/ops");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("#live")).ToHaveAttributeAsync("data-state", "live");
        await Expect(page.GetByTestId("count-Held")).ToHaveTextAsync("1");
        await Expect(page.GetByTestId("count-AwaitingStock")).ToHaveTextAsync("2");
        await Expect(page.GetByTestId("count-Confirmed")).ToHaveTextAsync("2");
        await Expect(page.GetByTestId("count-Screening")).ToHaveTextAsync("1");
        await Expect(page.GetByTestId("in-flight")).ToHaveTextAsync("6");
        await Expect(page.GetByTestId("at-risk")).ToHaveTextAsync("4");

        // Live sagas with a cutoff, nearest first: Confirming (3 min) is the most urgent.
        var nearest = page.GetByRole(AriaRole.Region, new() { Name = "Nearest cutoffs" });
        var rows = nearest.Locator("tbody tr");
        await Expect(rows).ToHaveCountAsync(5);
        await Expect(rows.First).ToContainTextAsync("supermicro-sg");
        await Expect(rows.First.Locator(".countdown")).ToHaveAttributeAsync("data-level", "urgent");
        var before = await rows.First.Locator(".countdown").TextContentAsync();
        await Expect(rows.First.Locator(".countdown")).Not.ToHaveTextAsync(before!, new() { Timeout = 3000 });

        await console.ScreenshotAsync(page, "01-overview");
    }

    [Fact]
    public async Task Filtering_the_list_by_state_shows_only_that_state()
    {
        var page = await console.NewPageAsync();
        await page.GotoAsync("/ops/sagas");
        await Expect(page.Locator("#results-count")).ToHaveTextAsync(Count());

        await page.GetByLabel("State").SelectOptionAsync("AwaitingStock");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(StateFilter());
        await Expect(page.Locator("#results-count")).ToHaveTextAsync("2 reservations");
        var badges = page.Locator("#results tbody .badge");
        await Expect(badges).ToHaveCountAsync(2);
        await Expect(badges).ToHaveTextAsync(["AwaitingStock", "AwaitingStock"]);
        await console.ScreenshotAsync(page, "02-list-filtered-by-state");

        // The filters live in the address, so the same view can be bookmarked or shared.
        await page.ReloadAsync();
        await Expect(page.GetByLabel("State")).ToHaveValueAsync("AwaitingStock");
        await Expect(badges).ToHaveCountAsync(2);
    }

    [Fact]
    public async Task A_saga_page_shows_its_timeline_holds_per_distributor_and_decision()
    {
        var saga = console.ToInspect;
        var page = await console.NewPageAsync();
        await page.GotoAsync("/ops/sagas?buyer=supermicro-sg&state=Held");

        await page.GetByRole(AriaRole.Link, new() { Name = $"Reservation {saga.CorrelationId}" }).ClickAsync();

        await Expect(page).ToHaveURLAsync($"{console.Address}ops/sagas/{saga.CorrelationId}");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync($"Reservation {saga.CorrelationId.ToString()[..8]}…{saga.CorrelationId.ToString()[^4..]}");
        var timeline = page.GetByRole(AriaRole.List, new() { Name = "Timeline, oldest first" }).Locator("li");
        await Expect(timeline).ToHaveCountAsync(3);
        await Expect(timeline.Last).ToContainTextAsync("Allocating→Held on HoldsPlaced");
        await Expect(page.GetByTestId("decision")).ToHaveTextAsync(saga.DecisionId!);
        var holds = page.GetByRole(AriaRole.Region, new() { Name = "Holds per distributor" });
        await Expect(holds.GetByRole(AriaRole.Rowheader)).ToHaveTextAsync(["arrow80 units", "avnet40 units"]);
        await Expect(page.Locator("#saga-diagram .node.current")).ToHaveAttributeAsync("data-state", "Held");

        await console.ScreenshotAsync(page, "03-saga-detail");
    }

    [Fact]
    public async Task Cancelling_from_the_console_needs_a_reason_and_ends_the_saga_Cancelled()
    {
        var saga = Sagas.In("Held", "lenovo-apac", DateTimeOffset.UtcNow.AddHours(6), sku: "NVIDIA-A800-PCIE-80GB", quantity: 16, distributors: "wpg");
        await console.SeedAsync(saga);
        var page = await console.NewPageAsync();
        await page.GotoAsync($"/ops/sagas/{saga.CorrelationId}");
        await Expect(page.Locator(".page-head .badge-lg")).ToHaveTextAsync("Held");

        // Keyboard only: focus the button, press Enter; the dialog takes focus into the reason.
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel reservation" }).FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Cancel this reservation?" });
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog.GetByLabel("Reason")).ToBeFocusedAsync();

        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel reservation" }).ClickAsync();
        await Expect(dialog.Locator("#action-error")).ToHaveTextAsync("Give a reason: it is kept with the action.");
        await console.ScreenshotAsync(page, "04-cancel-dialog-needs-a-reason");

        await page.Keyboard.TypeAsync("Buyer withdrew the order by phone (ticket OPS-4411)");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel reservation" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();

        // The saga consumes the cancellation from the broker; the page re-reads it every 2 s.
        await Expect(page.Locator(".page-head .badge-lg")).ToHaveTextAsync("Cancelled", new() { Timeout = 20_000 });
        var timeline = page.GetByRole(AriaRole.List, new() { Name = "Timeline, oldest first" });
        await Expect(timeline.Locator("li[data-kind=OpsAction]")).ToContainTextAsync("Reason: Buyer withdrew the order by phone (ticket OPS-4411)");
        await Expect(timeline.Locator("li").Last).ToContainTextAsync("Held→Cancelled on CancellationRequested");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Cancel reservation" })).ToHaveCountAsync(0);

        await console.ScreenshotAsync(page, "05-saga-cancelled");
    }

    [Fact]
    public async Task The_state_machine_page_draws_the_generated_diagram()
    {
        var page = await console.NewPageAsync();
        await page.GotoAsync("/ops/state-machine");

        await Expect(page.Locator("#diagram svg .node")).ToHaveCountAsync(12);
        await Expect(page.Locator("#diagram svg .node", new() { HasText = "UnderReview" })).ToHaveCountAsync(1);
        await Expect(page.Locator("#diagram svg .node.terminal")).ToHaveCountAsync(5);
        await Expect(page.GetByLabel("Mermaid source")).ToContainTextAsync("stateDiagram-v2");

        await console.ScreenshotAsync(page, "06-state-machine");
    }

    [Fact]
    public async Task The_review_desk_says_when_compliance_cannot_be_reached_instead_of_showing_an_empty_queue()
    {
        var page = await console.NewPageAsync();
        await page.GotoAsync("/ops");
        await page.GetByRole(AriaRole.Link, new() { Name = "Review desk" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Review desk", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.GetByTestId("reviews-unavailable")).ToHaveTextAsync("Compliance could not be reached.");
        await Expect(page.GetByText("No potential match awaits review.")).ToHaveCountAsync(0);
        await console.ScreenshotAsync(page, "07-review-desk-compliance-unreachable");
    }

    [Fact]
    public async Task A_compliance_officer_without_the_ops_role_signs_in_to_the_review_desk_and_is_offered_nothing_else()
    {
        var page = await console.NewPageAsync(signedIn: false);
        await page.GotoAsync("/ops");
        await page.GetByLabel("Access token").FillAsync(OfficerOnly);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        // The console starts an officer on the review desk, the only page in the navigation.
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Review desk", Level = 1 })).ToBeVisibleAsync();
        await Expect(page).ToHaveURLAsync($"{console.Address}ops/reviews");
        await Expect(page.Locator("#who-name")).ToHaveTextAsync("Signed in as officer-ana");
        await Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Console" }).GetByRole(AriaRole.Link))
            .ToHaveTextAsync([ReviewDeskLink()]);
        await Expect(page.GetByTestId("reviews-unavailable")).ToHaveTextAsync("Compliance could not be reached.");
        await Expect(page.Locator("#live")).ToBeHiddenAsync();
        await console.ScreenshotAsync(page, "08-officer-review-desk");

        // An operator's page, typed into the address bar: the console says whose it is instead of failing on a 403.
        await page.GotoAsync($"/ops/sagas/{console.ToInspect.CorrelationId}");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "For operators only", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.GetByTestId("not-for-role")).ToContainTextAsync("This page is for operators (the ops role).");
        await Expect(page.Locator(".page-head .badge-lg")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task An_officer_who_is_also_an_operator_gets_every_page()
    {
        var page = await console.NewPageAsync(Officer);
        await page.GotoAsync("/ops");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Console" }).GetByRole(AriaRole.Link)).ToHaveCountAsync(4);
        await Expect(page.Locator("#live")).ToHaveAttributeAsync("data-state", "live");
    }

    private static readonly string OfficerOnly = TestTokens.For("officer-ana", null, BrokeringRoles.ComplianceOfficer);

    private static readonly string Officer = TestTokens.For("officer-ana", null, BrokeringRoles.Ops, BrokeringRoles.ComplianceOfficer);

    [GeneratedRegex("^Review desk")]
    private static partial Regex ReviewDeskLink();

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    private static IPageAssertions Expect(IPage page) => Assertions.Expect(page);

    [GeneratedRegex("state=AwaitingStock")]
    private static partial Regex StateFilter();

    [GeneratedRegex(@"^\d+ reservations$")]
    private static partial Regex Count();
}
