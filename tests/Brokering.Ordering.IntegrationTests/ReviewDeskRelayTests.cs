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
        await host.SeedAsync(ended);
        using var officer = host.ClientWith(Officer);

        using var ruling = await officer.PostAsJsonAsync($"/v1/review-desk/{Guid.NewGuid()}/confirm",
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
