using System.Net;
using System.Net.Http.Json;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Ops;
using Brokering.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Finding sagas: filters, paging, at-risk, detail. Saga rows are seeded straight into the database;
/// each test uses buyers, SKUs and distributors of its own, so the tests share one host.
/// </summary>
public sealed class OpsQueryTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static readonly DateTimeOffset Soon = DateTimeOffset.UtcNow.AddMinutes(30);

    [Fact]
    public async Task Filtering_by_state_and_buyer_returns_only_those_sagas()
    {
        var buyer = Sagas.NewBuyer("acme");
        var held = Sagas.In("Held", buyer, Soon, distributors: "arrow");
        var alsoHeld = Sagas.In("Held", buyer, Soon, distributors: "arrow");
        await host.SeedAsync(held, alsoHeld, Sagas.In("Allocating", buyer, Soon), Sagas.In("Held", Sagas.NewBuyer("other"), Soon));

        var page = await host.GetJsonAsync<OpsApi.SagaPage>($"/v1/ops/sagas?state=Held&buyer={buyer}");

        page.Total.ShouldBe(2);
        page.Items.Select(r => r.Id).ShouldBe([held.CorrelationId, alsoHeld.CorrelationId], ignoreOrder: true);
        page.Items.ShouldAllBe(r => r.State == "Held" && r.BuyerId == buyer);
    }

    [Fact]
    public async Task Filtering_by_sku_looks_inside_the_lines()
    {
        var buyer = Sagas.NewBuyer("sku");
        var sku = $"SKU-{Guid.NewGuid():N}"[..20].ToUpperInvariant();
        var wanted = Sagas.In("Held", buyer, Soon, sku: sku, distributors: "arrow");
        await host.SeedAsync(wanted, Sagas.In("Held", buyer, Soon, distributors: "arrow"));

        var page = await host.GetJsonAsync<OpsApi.SagaPage>($"/v1/ops/sagas?sku={sku}");

        page.Total.ShouldBe(1);
        page.Items.Single().Id.ShouldBe(wanted.CorrelationId);
        page.Items.Single().Skus.ShouldBe([sku]);
    }

    [Fact]
    public async Task Filtering_by_sku_reads_the_sku_in_its_canonical_spelling_as_the_buyer_list_does()
    {
        var buyer = Sagas.NewBuyer("sku-spelling");
        var sku = $"SKU-{Guid.NewGuid():N}"[..20].ToUpperInvariant();
        var wanted = Sagas.In("Held", buyer, Soon, sku: sku, distributors: "arrow");
        await host.SeedAsync(wanted, Sagas.In("Held", buyer, Soon, distributors: "arrow"));

        var page = await host.GetJsonAsync<OpsApi.SagaPage>($"/v1/ops/sagas?sku={Uri.EscapeDataString($" {sku.ToLowerInvariant()} ")}");
        using var notASku = await host.Http.GetAsync(new Uri("/v1/ops/sagas?sku=h20%20sxm", UriKind.Relative), TestContext.Current.CancellationToken);

        page.Items.Select(r => r.Id).ShouldBe([wanted.CorrelationId]);
        notASku.StatusCode.ShouldBe(System.Net.HttpStatusCode.BadRequest, "an inner space is in no SKU, as the buyer list answers");
    }

    [Fact]
    public async Task Filtering_by_distributor_looks_inside_the_holds()
    {
        var buyer = Sagas.NewBuyer("dist");
        var distributor = $"d-{Guid.NewGuid():N}"[..16];
        var atBoth = Sagas.In("Held", buyer, Soon, quantity: 40, distributors: ["arrow", distributor]);
        var onlyArrow = Sagas.In("Held", buyer, Soon, distributors: "arrow");
        await host.SeedAsync(atBoth, onlyArrow);

        var page = await host.GetJsonAsync<OpsApi.SagaPage>($"/v1/ops/sagas?distributor={distributor}&buyer={buyer}");

        page.Items.Select(r => r.Id).ShouldBe([atBoth.CorrelationId]);
        page.Items.Single().Distributors.ShouldBe(["arrow", distributor], ignoreOrder: true);
    }

    [Fact]
    public async Task At_risk_means_not_ended_with_the_cutoff_within_the_horizon_or_already_past()
    {
        var buyer = Sagas.NewBuyer("risk");
        var now = DateTimeOffset.UtcNow;
        var closing = Sagas.In("Held", buyer, now.AddMinutes(5), distributors: "arrow");
        var overdue = Sagas.In("AwaitingStock", buyer, now.AddMinutes(-2), distributors: "arrow");
        var later = Sagas.In("Held", buyer, now.AddMinutes(45), distributors: "arrow");
        var ended = Sagas.In("Expired", buyer, now.AddMinutes(5));
        var noCutoff = Sagas.In("Allocating", buyer, null);
        await host.SeedAsync(closing, overdue, later, ended, noCutoff);

        var page = await host.GetJsonAsync<OpsApi.SagaPage>($"/v1/ops/sagas?atRiskWithin=15&buyer={buyer}");

        // Most urgent first: the overdue one, then the one closing in 5 minutes.
        page.Items.Select(r => r.Id).ShouldBe([overdue.CorrelationId, closing.CorrelationId]);
        page.Items[1].MinutesToCutoff!.Value.ShouldBeInRange(3.5, 5.5);
    }

    [Fact]
    public async Task Pages_are_exact_stable_and_cover_every_saga_once()
    {
        var buyer = Sagas.NewBuyer("pages");
        var now = DateTimeOffset.UtcNow;
        var sagas = Enumerable.Range(1, 7).Select(i => Sagas.In("Held", buyer, now.AddMinutes(10 * i), distributors: "arrow")).ToArray();
        await host.SeedAsync(sagas);

        var pages = new List<OpsApi.SagaPage>();
        for (var number = 1; number <= 3; number++)
        {
            pages.Add(await host.GetJsonAsync<OpsApi.SagaPage>($"/v1/ops/sagas?buyer={buyer}&pageSize=3&page={number}"));
        }

        pages.Select(p => p.Items.Count).ShouldBe([3, 3, 1]);
        pages.ShouldAllBe(p => p.Total == 7 && p.PageSize == 3);
        pages.SelectMany(p => p.Items).Select(r => r.Id).ShouldBe(sagas.Select(s => s.CorrelationId));
        (await host.GetJsonAsync<OpsApi.SagaPage>($"/v1/ops/sagas?buyer={buyer}&pageSize=3&page=4")).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task Live_sagas_come_before_ended_ones()
    {
        var buyer = Sagas.NewBuyer("order");
        var ended = Sagas.In("Confirmed", buyer, DateTimeOffset.UtcNow.AddMinutes(1), distributors: "arrow");
        var live = Sagas.In("Held", buyer, DateTimeOffset.UtcNow.AddHours(5), distributors: "arrow");
        await host.SeedAsync(ended, live);

        var page = await host.GetJsonAsync<OpsApi.SagaPage>($"/v1/ops/sagas?buyer={buyer}");

        page.Items.Select(r => r.Id).ShouldBe([live.CorrelationId, ended.CorrelationId]);
    }

    [Theory]
    [InlineData("state=Helt", "state")]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageSize=201", "pageSize")]
    [InlineData("page=0", "page")]
    [InlineData("page=42949673&pageSize=100", "page")]
    [InlineData("page=2147483647", "page")]
    [InlineData("atRiskWithin=-1", "atRiskWithin")]
    public async Task Bad_filters_are_a_validation_problem_naming_the_parameter(string query, string parameter)
    {
        using var response = await host.Http.GetAsync(new Uri($"/v1/ops/sagas?{query}", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await response.Content.ReadAsStringAsync()).ShouldContain($"\"{parameter}\"");
    }

    [Fact]
    public async Task The_detail_shows_holds_per_distributor_the_decision_and_the_timeline()
    {
        var saga = Sagas.In("Held", Sagas.NewBuyer("detail"), Soon, quantity: 60, distributors: ["arrow", "avnet", "arrow"]);
        await host.SeedAsync(saga);

        var detail = await host.GetJsonAsync<OpsApi.SagaDetail>($"/v1/ops/sagas/{saga.CorrelationId}");

        detail.DecisionId.ShouldBe(saga.DecisionId);
        detail.HoldsByDistributor.Select(d => (d.DistributorId, d.Units, d.Holds.Count)).ShouldBe([("arrow", 40L, 2), ("avnet", 20L, 1)]);
        detail.Timeline.Select(step => step.To).ShouldBe(["Screening", "Allocating", "Held"]);
        detail.Timeline.ShouldAllBe(step => step.Kind == "Transition");
        detail.Actions.Select(a => a.Action).ShouldBe(["Cancel", "ReleaseHolds", "Rescreen"]);
    }

    [Fact]
    public async Task An_unknown_saga_is_not_found()
    {
        using var response = await host.Http.GetAsync(new Uri($"/v1/ops/sagas/{Guid.NewGuid()}", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }

    [Fact]
    public async Task The_state_diagram_is_served_as_mermaid_text_generated_from_the_machine()
    {
        var diagram = host.Services.GetRequiredService<StateMachineDiagram>();

        using var response = await host.Http.GetAsync(new Uri("/v1/ops/state-machine.mmd", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/plain");
        text.ShouldBe(diagram.ToMermaid());
        text.ShouldStartWith("stateDiagram-v2\n");
        text.ShouldContain("Held --> Confirming : ConfirmationRequested");
    }

    [Fact]
    public async Task The_states_and_what_works_in_each_are_served_as_the_saga_declares_them()
    {
        var states = await host.GetJsonAsync<OpsApi.StatesView>("/v1/ops/states");

        states.Initial.ShouldBe("Submitted");
        states.Live.ShouldBe(Saga.ReservationStates.Declared.Live);
        states.Ended.ShouldBe(Saga.ReservationStates.Declared.Terminal);
        states.States.Select(state => state.Name).ShouldBe(Saga.ReservationStates.Declared.All);
        var confirming = states.States.Single(state => state.Name == "Confirming");
        (confirming.Ended, confirming.ReachedByRuleChange, confirming.BuyerMayCancel, confirming.HoldsStock).ShouldBe((false, true, false, true));
        confirming.OpsActions.ShouldBe(["Rescreen"]);
        states.States.Single(state => state.Name == "Held").OpsActions.ShouldBe(["Cancel", "ReleaseHolds", "Rescreen"]);
    }

    [Theory]
    [InlineData("/v1/ops/summary?atRiskWithin=-1")]
    [InlineData("/v1/ops/stream?atRiskWithin=-1")]
    [InlineData("/v1/ops/stream?atRiskWithin=10081")]
    public async Task The_summary_and_its_stream_refuse_an_at_risk_window_out_of_range_alike(string uri)
    {
        using var response = await host.Http.GetAsync(new Uri(uri, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await response.Content.ReadAsStringAsync()).ShouldContain("\"atRiskWithin\"");
    }

    [Theory]
    [InlineData("/v1/ops/states")]
    [InlineData("/v1/ops/sagas")]
    [InlineData("/v1/ops/summary")]
    [InlineData("/v1/ops/stream")]
    [InlineData("/v1/ops/state-machine.mmd")]
    public async Task The_ops_api_needs_a_token_with_the_ops_role(string path)
    {
        using var anonymous = host.ClientWith(null);
        using var buyer = host.ClientWith(TestTokens.Buyer("acme"));
        using var compliance = host.ClientWith(TestTokens.ComplianceOfficer());

        (await anonymous.GetAsync(new Uri(path, UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await buyer.GetAsync(new Uri(path, UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await compliance.GetAsync(new Uri(path, UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task An_action_without_the_ops_role_is_refused_and_changes_nothing()
    {
        var saga = Sagas.In("Held", Sagas.NewBuyer("forbidden"), Soon, distributors: "arrow");
        await host.SeedAsync(saga);
        using var buyer = host.ClientWith(TestTokens.Buyer(saga.BuyerId));

        using var response = await buyer.PostAsJsonAsync(new Uri($"/v1/ops/sagas/{saga.CorrelationId}/cancel", UriKind.Relative), new { reason = "mine" });

        response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        var detail = await host.GetJsonAsync<OpsApi.SagaDetail>($"/v1/ops/sagas/{saga.CorrelationId}");
        detail.Timeline.ShouldNotContain(step => step.Kind == "OpsAction");
    }

    [Fact]
    public async Task The_console_page_is_served_for_its_routes_with_a_strict_content_security_policy()
    {
        // The shell holds no data (that comes from /v1/ops with the operator's token), so a browser can load it.
        using var anonymous = host.ClientWith(null);
        foreach (var route in new[] { "/ops", "/ops/sagas", $"/ops/sagas/{Guid.NewGuid()}", "/ops/state-machine" })
        {
            using var page = await anonymous.GetAsync(new Uri(route, UriKind.Relative));
            page.StatusCode.ShouldBe(HttpStatusCode.OK, route);
            page.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
            page.Headers.GetValues("Content-Security-Policy").Single().ShouldContain("script-src 'self'");
            (await page.Content.ReadAsStringAsync()).ShouldContain("/ops/assets/app.js");
        }

        using var script = await anonymous.GetAsync(new Uri("/ops/assets/app.js", UriKind.Relative));
        script.StatusCode.ShouldBe(HttpStatusCode.OK);
        script.Content.Headers.ContentType!.MediaType.ShouldBe("text/javascript");
        using var missing = await anonymous.GetAsync(new Uri("/ops/assets/nope.js", UriKind.Relative));
        missing.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }
}
