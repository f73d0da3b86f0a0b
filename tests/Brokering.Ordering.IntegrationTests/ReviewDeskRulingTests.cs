using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Rulings through ordering's review desk (<c>/v1/review-desk/{decisionId}/clear</c> and <c>confirm</c>) with compliance's
/// review desk stood in for by a REST app that files the decisions the test gives it and records every ruling it is asked
/// for: what compliance refuses is answered as a problem of ordering's request, and a ruling is judged on the decision's
/// own reservation.
/// </summary>
public sealed class ReviewDeskRulingTests(ReviewDeskRulingTests.Host host) : IClassFixture<ReviewDeskRulingTests.Host>
{
    private static readonly string Officer = TestTokens.For("officer-ana", null, BrokeringRoles.Ops, BrokeringRoles.ComplianceOfficer);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_ruling_is_judged_on_the_decisions_own_reservation_and_one_naming_another_is_refused_under_reservationId_with_nothing_recorded()
    {
        var (cancelled, cancelledDecision) = await SeedAsync("Cancelled");
        var (live, liveDecision) = await SeedAsync("Screening");
        using var officer = host.ClientWith(Officer);

        using var liveBesideEnded = await officer.PostAsJsonAsync($"/v1/review-desk/{cancelledDecision}/clear",
            new { reason = "A hotel chain in Lisbon.", reservationId = live }, Cancel);
        using var endedBesideLive = await officer.PostAsJsonAsync($"/v1/review-desk/{liveDecision}/confirm",
            new { reason = "The listed party's Lisbon office.", reservationId = cancelled }, Cancel);
        using var tooLate = await officer.PostAsJsonAsync($"/v1/review-desk/{cancelledDecision}/clear",
            new { reason = "A hotel chain in Lisbon.", reservationId = cancelled }, Cancel);

        foreach (var refused in new[] { liveBesideEnded, endedBesideLive })
        {
            var text = await refused.Content.ReadAsStringAsync(Cancel);
            refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
            JsonDocument.Parse(text).RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name).ShouldBe(["reservationId"]);
        }

        tooLate.StatusCode.ShouldBe(HttpStatusCode.Conflict, await tooLate.Content.ReadAsStringAsync(Cancel));
        host.Compliance.Rulings.ShouldNotContain(ruling => ruling.StartsWith($"{cancelledDecision}/", StringComparison.Ordinal) || ruling.StartsWith($"{liveDecision}/", StringComparison.Ordinal));
        using var ruled = await officer.PostAsJsonAsync($"/v1/review-desk/{liveDecision}/clear",
            new { reason = "A hotel chain in Lisbon.", reservationId = live }, Cancel);
        ruled.StatusCode.ShouldBe(HttpStatusCode.OK, await ruled.Content.ReadAsStringAsync(Cancel));
        host.Compliance.Rulings.ShouldContain($"{liveDecision}/clear");
    }

    [Fact]
    public async Task Compliances_refusal_of_a_ruling_is_passed_on_as_a_problem_of_orderings_own_request()
    {
        var (live, decision) = await SeedAsync("Screening");
        host.Compliance.Refusing[decision] = true;
        using var officer = host.ClientWith(Officer);

        using var refused = await officer.PostAsJsonAsync($"/v1/review-desk/{decision}/clear",
            new { reason = "A hotel chain in Lisbon.", reservationId = live }, Cancel);

        var text = await refused.Content.ReadAsStringAsync(Cancel);
        refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
        var problem = JsonDocument.Parse(text).RootElement;
        problem.GetProperty("instance").GetString().ShouldBe($"/v1/review-desk/{decision}/clear");
        problem.GetProperty("errors").GetProperty("reason")[0].GetString().ShouldBe("Compliance's own word.", "the rest is compliance's");
    }

    /// <summary>A reservation in <paramref name="state"/> whose screening compliance filed as a potential match.</summary>
    private async Task<(Guid Reservation, Guid Decision)> SeedAsync(string state)
    {
        var saga = Sagas.In(state, Sagas.NewBuyer("review-ruling"), null);
        var decision = Guid.NewGuid();
        saga.DecisionId = decision.ToString();
        await host.SeedAsync(saga);
        host.Compliance.Decisions[saga.CorrelationId] = [decision];
        return (saga.CorrelationId, decision);
    }

    /// <summary>Compliance's review desk and decision record, as far as ordering's review desk asks them.</summary>
    public sealed class StandInReviews : IAsyncDisposable
    {
        private WebApplication? app;

        public ConcurrentDictionary<Guid, Guid[]> Decisions { get; } = new();

        /// <summary>Decisions whose rulings compliance refuses as a bad request.</summary>
        public ConcurrentDictionary<Guid, bool> Refusing { get; } = new();

        /// <summary>Every ruling recorded, as <c>{decisionId}/{ruling}</c>.</summary>
        public ConcurrentQueue<string> Rulings { get; } = new();

        public Uri Address { get; private set; } = null!;

        public async Task StartAsync()
        {
            var port = FreePort.Next();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Configuration.Sources.Clear();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
            app = builder.Build();
            app.MapGet("/v1/decisions/{reservationId:guid}", (Guid reservationId) => Decisions.TryGetValue(reservationId, out var filed)
                ? Results.Json(new { reservationId, decisions = filed.Select(id => new { id, outcome = "PotentialMatch" }) })
                : Results.Problem($"No decision is on file for reservation '{reservationId}'.", statusCode: StatusCodes.Status404NotFound));
            app.MapPost("/v1/reviews/{decisionId:guid}/{ruling}", (Guid decisionId, string ruling, HttpContext http) =>
            {
                if (Refusing.ContainsKey(decisionId))
                {
                    return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["Compliance's own word."] }, instance: http.Request.Path);
                }

                Rulings.Enqueue($"{decisionId}/{ruling}");
                var reservation = Decisions.Single(filed => filed.Value.Contains(decisionId)).Key;
                return Results.Json(new
                {
                    decisionId, reservationId = reservation.ToString(), ruling = ruling == "clear" ? "Cleared" : "Confirmed", reason = "As given.",
                    ruledBy = "officer-ana", ruledAt = DateTimeOffset.UtcNow, rulingDecisionId = Guid.NewGuid(), rulingOutcome = "Approved",
                });
            });
            await app.StartAsync();
            Address = new Uri($"http://127.0.0.1:{port}/");
        }

        public async ValueTask DisposeAsync()
        {
            if (app is not null)
            {
                await app.DisposeAsync();
            }
        }
    }

    /// <summary>Ordering whose review desk calls <see cref="Compliance"/>.</summary>
    public sealed class Host : OrderingHost
    {
        public StandInReviews Compliance { get; } = new();

        public override async ValueTask InitializeAsync()
        {
            await Compliance.StartAsync();
            await base.InitializeAsync();
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            await Compliance.DisposeAsync();
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Services:ComplianceApi", Compliance.Address.ToString());
        }
    }
}
