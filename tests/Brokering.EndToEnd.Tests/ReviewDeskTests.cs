using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Brokering.Testing.Installation;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>The three services with a screening deadline short enough to see a review go unattended.</summary>
public sealed class ReviewDeskSystem() : BrokeringSystem(new BrokeringSystemOptions
{
    Environment = new Dictionary<string, string> { ["Ordering__ScreeningDeadline"] = ReviewDeskTests.ScreeningDeadline.ToString("c") },
}), IAsyncLifetime;

/// <summary>
/// A near-miss name through the public APIs: the reservation waits UnderReview until a compliance officer rules on it over
/// REST, and fails closed when nobody does.
/// </summary>
public sealed class ReviewDeskTests(ReviewDeskSystem system) : IClassFixture<ReviewDeskSystem>
{
    public static readonly TimeSpan ScreeningDeadline = TimeSpan.FromSeconds(60);

    // Scores in the default review band against "Inspur Group Co., Ltd.": neither cleared nor denied by screening.
    private const string NearMiss = "Inspor Group";
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_near_miss_waits_under_review_until_an_officer_clears_it_over_rest_and_is_then_confirmed()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await system.PublishSnapshotAsync("arrow", system.NextFeedSequence("arrow"), Sku, "HKG-1", 100, 31000m, cancellationToken);
        using var buyer = system.Buyer("review-buyer");
        var location = await SubmitAsync(buyer, "PO-REVIEW-1", cancellationToken);

        var waiting = await WaitForStatusAsync(buyer, location, "UnderReview", cancellationToken);
        var told = waiting.GetProperty("statusReason").GetString()!;
        told.ShouldBe("Awaiting a compliance officer's review of the export screening.");

        using var officer = system.ComplianceOfficer();
        var reservationId = location.ToString().Split('/')[^1];
        var queue = await officer.GetFromJsonAsync<JsonElement>("/v1/reviews", cancellationToken);
        var review = queue.GetProperty("reviews").EnumerateArray().Single(item => item.GetProperty("reservationId").GetString() == reservationId);
        review.GetProperty("buyerId").GetString().ShouldBe("review-buyer");
        review.GetProperty("matches")[0].GetProperty("entryName").GetString().ShouldBe("Inspur Group Co., Ltd.");
        review.GetProperty("decideBy").ValueKind.ShouldBe(JsonValueKind.String);

        using var cleared = await officer.PostAsJsonAsync(
            new Uri($"/v1/reviews/{review.GetProperty("decisionId").GetString()}/clear", UriKind.Relative),
            new { reason = "A hotel chain in Lisbon, unrelated to the server maker." }, cancellationToken);
        cleared.StatusCode.ShouldBe(HttpStatusCode.OK, await cleared.Content.ReadAsStringAsync(cancellationToken));

        await WaitForStatusAsync(buyer, location, "Held", cancellationToken);
        using var confirm = await buyer.PostAsync(new Uri($"{location}/confirm", UriKind.Relative), null, cancellationToken);
        confirm.StatusCode.ShouldBe(HttpStatusCode.Accepted, await confirm.Content.ReadAsStringAsync(cancellationToken));
        var confirmed = await WaitForStatusAsync(buyer, location, "Confirmed", cancellationToken);
        confirmed.GetProperty("history").EnumerateArray().Select(step => step.GetProperty("to").GetString())
            .ShouldBe(["Screening", "UnderReview", "Allocating", "Held", "Confirming", "Confirmed"]);

        // The confirmation rests on a potential match an officer cleared: the invariant checker, reading the three
        // databases, agrees.
        var report = await ScrambleDriver.SettleInvariantsAsync(system.Databases, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), cancellationToken);
        report.Passed.ShouldBeTrue(report.ToString());
    }

    [Fact]
    public async Task A_near_miss_nobody_reviews_is_rejected_at_the_screening_deadline()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var buyer = system.Buyer("review-buyer-2");
        var location = await SubmitAsync(buyer, "PO-REVIEW-2", cancellationToken);
        await WaitForStatusAsync(buyer, location, "UnderReview", cancellationToken);

        var rejected = await ScrambleDriver.WaitForStatusAsync(buyer, location, "Rejected", ScreeningDeadline + Patience, () => system.Logs, cancellationToken);

        var reason = rejected.GetProperty("statusReason").GetString()!;
        reason.ShouldStartWith("No compliance officer reviewed the export screening within");
        reason.ShouldNotContain("Inspur");
        rejected.GetProperty("history").EnumerateArray().Select(step => step.GetProperty("to").GetString())
            .ShouldBe(["Screening", "UnderReview", "Rejected"]);
    }

    [Fact]
    public async Task An_officer_judges_a_rule_set_against_the_reservations_in_flight_through_the_console_before_publishing_it()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await system.PublishSnapshotAsync("arrow", system.NextFeedSequence("arrow"), Sku, "HKG-1", 100, 31000m, cancellationToken);
        using var buyer = system.Buyer("dry-run-buyer");
        using var submitted = await buyer.PostAsJsonAsync("/v1/reservations",
            ScrambleDriver.Reservation("PO-DRY-1", "Acme Hosting", "AllOrNone", "Manual", [new Line(Sku, 5, 32000m)], destination: "US", endUserCountry: "US"),
            cancellationToken);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync(cancellationToken));
        var held = await WaitForStatusAsync(buyer, submitted.Headers.Location!, "Held", cancellationToken);
        held.GetProperty("cutoff").ValueKind.ShouldBe(JsonValueKind.Null, "no rule in force restricts a sale to the US");
        var reservationId = submitted.Headers.Location!.ToString().Split('/')[^1];

        // A rule that would add the US: effective in half an hour, and one already in effect.
        var soon = DateTimeOffset.UtcNow.AddMinutes(30);
        using var officer = BrokeringSystem.RestClient(system.Ordering, TestTokens.For("officer-dry", null, BrokeringRoles.ComplianceOfficer));
        var sooner = await DryRunAsync(officer, new { version = "dry-us-soon", effectiveAt = soon, basedOn = "2023-10-17", destinations = new { countries = UnitedStates } },
            cancellationToken);
        var already = await DryRunAsync(officer,
            new { version = "dry-us-now", effectiveAt = DateTimeOffset.UtcNow.AddMinutes(-1), basedOn = "2023-10-17", destinations = new { countries = UnitedStates } },
            cancellationToken);

        var mine = sooner.GetProperty("reservations").EnumerateArray().Single(r => r.GetProperty("reservationId").GetString() == reservationId);
        mine.GetProperty("status").GetString().ShouldBe("Held");
        mine.GetProperty("effect").GetString().ShouldBe("CutoffEarlier");
        mine.GetProperty("cutoff").GetDateTimeOffset().ShouldBe(soon, TimeSpan.FromMilliseconds(1));
        sooner.GetProperty("inFlight").GetInt32().ShouldBeGreaterThanOrEqualTo(1);
        sooner.GetProperty("judged").GetInt32().ShouldBe(sooner.GetProperty("inFlight").GetInt32());
        already.GetProperty("reservations").EnumerateArray().Single(r => r.GetProperty("reservationId").GetString() == reservationId)
            .GetProperty("effect").GetString().ShouldBe("CutoffPassed");

        // Judged, not published: the reservation is untouched and compliance has no such rule set.
        (await buyer.GetFromJsonAsync<JsonElement>(submitted.Headers.Location!, cancellationToken)).GetProperty("status").GetString().ShouldBe("Held");
        using var compliance = system.ComplianceOfficer();
        using var unpublished = await compliance.GetAsync(new Uri("/v1/rule-sets/dry-us-now", UriKind.Relative), cancellationToken);
        unpublished.StatusCode.ShouldBe(HttpStatusCode.NotFound);

        // Operators watch the desk; only officers judge rule sets.
        using var operatorClient = system.Operator();
        using var refused = await operatorClient.PostAsJsonAsync(new Uri("/v1/review-desk/rule-set-dry-run", UriKind.Relative),
            new { ruleSet = new { version = "dry-op", effectiveAt = soon, basedOn = "2023-10-17" } }, cancellationToken);
        refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden);

        // The installation is shared with the other tests, which check the invariants over every reservation: this one
        // must end too, whichever test runs first.
        using var cancelled = await buyer.PostAsJsonAsync(new Uri($"{submitted.Headers.Location}/cancel", UriKind.Relative), new { reason = "dry run done" }, cancellationToken);
        cancelled.StatusCode.ShouldBe(HttpStatusCode.Accepted, await cancelled.Content.ReadAsStringAsync(cancellationToken));
        await WaitForStatusAsync(buyer, submitted.Headers.Location!, "Cancelled", cancellationToken);
    }

    private static readonly string[] UnitedStates = ["US"];

    private static async Task<JsonElement> DryRunAsync(HttpClient officer, object ruleSet, CancellationToken cancellationToken)
    {
        using var response = await officer.PostAsJsonAsync(new Uri("/v1/review-desk/rule-set-dry-run", UriKind.Relative), new { ruleSet }, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task<Uri> SubmitAsync(HttpClient buyer, string reference, CancellationToken cancellationToken)
    {
        using var submitted = await buyer.PostAsJsonAsync("/v1/reservations",
            ScrambleDriver.Reservation(reference, NearMiss, "AllOrNone", "Manual", [new Line(Sku, 10, 32000m)], destination: "US", endUserCountry: "US"),
            cancellationToken);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync(cancellationToken));
        return submitted.Headers.Location!;
    }

    private Task<JsonElement> WaitForStatusAsync(HttpClient buyer, Uri location, string status, CancellationToken cancellationToken) =>
        ScrambleDriver.WaitForStatusAsync(buyer, location, status, Patience, () => system.Logs, cancellationToken);
}
