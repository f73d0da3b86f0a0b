using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The console's review desk (<c>/v1/review-desk</c>) where compliance cannot be reached (nothing listens on its
/// address here) or need not be asked: each failure is a clear answer, never a hang or a 5xx of the queue. The rulings
/// themselves, through compliance, are proved end to end by <c>ReviewConsoleTests</c>.
/// </summary>
public sealed class ReviewDeskRelayTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static readonly string Officer = TestTokens.For("officer-ana", null, BrokeringRoles.Ops, BrokeringRoles.ComplianceOfficer);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task While_compliance_cannot_be_reached_the_queue_says_so_and_a_ruling_is_refused_with_nothing_recorded()
    {
        using var officer = host.ClientWith(Officer);

        var queue = await officer.GetFromJsonAsync<JsonElement>("/v1/review-desk", Cancel);

        queue.GetProperty("unavailable").GetString().ShouldBe("Compliance could not be reached.");
        queue.GetProperty("reviews").GetArrayLength().ShouldBe(0);
        queue.GetProperty("mayRule").GetBoolean().ShouldBeTrue();

        using var ruling = await officer.PostAsJsonAsync($"/v1/review-desk/{Guid.NewGuid()}/clear",
            new { reason = "A hotel chain in Lisbon.", reservationId = Guid.NewGuid() }, Cancel);
        ruling.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        ruling.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = await ruling.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        problem.GetProperty("title").GetString().ShouldBe("Compliance is unavailable");
        problem.GetProperty("detail").GetString().ShouldBe("Compliance could not be reached. Nothing was recorded; try again.");
    }

    [Fact]
    public async Task A_ruling_on_a_reservation_that_has_ended_is_refused_as_too_late_without_asking_compliance()
    {
        var ended = Sagas.In("Rejected", "review-relay-buyer", null);
        var decision = Guid.NewGuid();
        ended.DecisionId = decision.ToString();
        await host.SeedAsync(ended);
        using var officer = host.ClientWith(Officer);

        using var ruling = await officer.PostAsJsonAsync($"/v1/review-desk/{decision}/confirm",
            new { reason = "The listed party's Lisbon office.", reservationId = ended.CorrelationId }, Cancel);

        // Compliance is unreachable here: a 409 rather than a 503 shows it was not asked.
        ruling.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        var problem = await ruling.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        problem.GetProperty("title").GetString().ShouldBe("Too late: the reservation has ended");
        problem.GetProperty("detail").GetString()!.ShouldStartWith($"Reservation {ended.CorrelationId} ended Rejected at ");
    }

    [Fact]
    public async Task A_ruling_without_a_reason_a_reservation_or_a_decision_id_is_a_problem_naming_each_field()
    {
        using var officer = host.ClientWith(Officer);

        using var ruling = await officer.PostAsJsonAsync("/v1/review-desk/not-a-decision/clear", new { reason = "  " }, Cancel);

        ruling.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var errors = (await ruling.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        errors.EnumerateObject().Select(field => field.Name).ShouldBe(["decisionId", "reason", "reservationId"], ignoreOrder: true);
    }

    [Fact]
    public async Task A_compliance_officer_without_the_ops_role_is_admitted_to_the_console_for_the_review_desk_and_refused_every_ops_action()
    {
        var held = Sagas.In("Held", "review-relay-officer", DateTimeOffset.UtcNow.AddHours(6));
        await host.SeedAsync(held);
        using var officer = host.ClientWith(TestTokens.For("officer-ana", null, BrokeringRoles.ComplianceOfficer));

        var session = await officer.GetFromJsonAsync<JsonElement>("/v1/console/session", Cancel);
        session.GetProperty("subject").GetString().ShouldBe("officer-ana");
        session.GetProperty("operator").GetBoolean().ShouldBeFalse();
        session.GetProperty("officer").GetBoolean().ShouldBeTrue();
        session.GetProperty("sections").EnumerateArray().Select(section => section.GetString()).ShouldBe(["reviews"]);

        var queue = await officer.GetFromJsonAsync<JsonElement>("/v1/review-desk", Cancel);
        queue.GetProperty("mayRule").GetBoolean().ShouldBeTrue();

        foreach (var read in new[] { "/v1/ops/summary", "/v1/ops/sagas", $"/v1/ops/sagas/{held.CorrelationId}", "/v1/ops/states" })
        {
            using var refused = await officer.GetAsync(read, Cancel);
            refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden, read);
        }

        foreach (var action in new[] { "cancel", "release-holds", "rescreen" })
        {
            using var refused = await officer.PostAsJsonAsync($"/v1/ops/sagas/{held.CorrelationId}/{action}", new { reason = "Officer's try." }, Cancel);
            refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden, action);
        }

        using var operatorClient = host.ClientWith(TestTokens.Operator());
        var still = await operatorClient.GetFromJsonAsync<JsonElement>($"/v1/ops/sagas/{held.CorrelationId}", Cancel);
        still.GetProperty("saga").GetProperty("state").GetString().ShouldBe("Held");
    }

    [Fact]
    public async Task The_console_admits_an_operator_to_every_page_and_refuses_a_token_with_neither_role()
    {
        using var operatorClient = host.ClientWith(TestTokens.Operator());
        using var buyer = host.ClientWith(TestTokens.Buyer("acme"));

        var session = await operatorClient.GetFromJsonAsync<JsonElement>("/v1/console/session", Cancel);
        using var refused = await buyer.GetAsync("/v1/console/session", Cancel);

        session.GetProperty("operator").GetBoolean().ShouldBeTrue();
        session.GetProperty("officer").GetBoolean().ShouldBeFalse();
        session.GetProperty("sections").EnumerateArray().Select(section => section.GetString())
            .ShouldBe(["overview", "sagas", "state-machine", "reviews"]);
        refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task An_operator_without_the_officer_role_may_read_the_queue_but_not_rule()
    {
        using var operatorClient = host.ClientWith(TestTokens.Operator());

        var queue = await operatorClient.GetFromJsonAsync<JsonElement>("/v1/review-desk", Cancel);
        using var ruling = await operatorClient.PostAsJsonAsync($"/v1/review-desk/{Guid.NewGuid()}/clear",
            new { reason = "Looks fine to me.", reservationId = Guid.NewGuid() }, Cancel);

        queue.GetProperty("mayRule").GetBoolean().ShouldBeFalse();
        ruling.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }
}
