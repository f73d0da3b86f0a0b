using System.Net;
using System.Net.Http.Json;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Ops;
using Brokering.Ordering.Reservations;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Operator actions, carried out for real: the API writes its audit row and an outbox message in one
/// transaction, the outbox relays it to RabbitMQ, and the saga (or the release activity) consumes it.
/// </summary>
public sealed class OpsActionTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static readonly DateTimeOffset Later = DateTimeOffset.UtcNow.AddHours(2);

    [Fact]
    public async Task Cancelling_a_held_saga_ends_it_Cancelled_releases_its_holds_and_audits_the_reason()
    {
        var saga = Sagas.In("Held", Sagas.NewBuyer("cancel"), Later, distributors: "arrow");
        await host.SeedAsync(saga);

        var accepted = await ActAsync(saga, "cancel", "Buyer called: duplicate of PO-17");

        accepted.Action.ShouldBe("Cancel");
        accepted.StateAtRequest.ShouldBe("Held");
        var ended = await host.WaitForStateAsync(saga.CorrelationId, "Cancelled");
        ended.StatusReason.ShouldBe($"Cancelled by ops: ops action {accepted.ActionId}");
        await host.Probe.WaitForAsync<ReleaseReservationHolds>(m => m.ReservationId == saga.CorrelationId);

        var detail = await host.GetJsonAsync<OpsApi.SagaDetail>($"/v1/ops/sagas/{saga.CorrelationId}");
        var action = detail.Timeline.Single(step => step.Kind == "OpsAction");
        (action.Event, action.Detail, action.Actor, action.From).ShouldBe(("Cancel", "Buyer called: duplicate of PO-17", "operator", "Held"));
        var cancelled = detail.Timeline.Single(step => step.To == "Cancelled");
        detail.Timeline.ToList().IndexOf(action).ShouldBeLessThan(detail.Timeline.ToList().IndexOf(cancelled));
        detail.Actions.ShouldAllBe(a => a.Action == "ReleaseHolds");
    }

    [Fact]
    public async Task The_buyer_sees_that_ops_cancelled_but_never_the_operators_reason()
    {
        var saga = Sagas.In("Held", Sagas.NewBuyer("tipoff"), Later, distributors: "arrow");
        await host.SeedAsync(saga);

        var accepted = await ActAsync(saga, "cancel", "Suspected diversion to a listed end user");
        await host.WaitForStateAsync(saga.CorrelationId, "Cancelled");

        using var buyer = host.ClientWith(TestTokens.Buyer(saga.BuyerId));
        var body = await buyer.GetStringAsync(new Uri($"/v1/reservations/{saga.CorrelationId}", UriKind.Relative));
        var view = System.Text.Json.JsonSerializer.Deserialize<ReservationView>(body, OrderingHost.Json)!;

        view.Status.ShouldBe("Cancelled");
        view.StatusReason!.ShouldContain(accepted.ActionId.ToString());
        body.ShouldNotContain("diversion");
    }

    [Fact]
    public async Task Releasing_the_holds_of_a_live_saga_is_carried_out_as_a_cancel()
    {
        var saga = Sagas.In("AwaitingStock", Sagas.NewBuyer("release-live"), Later, distributors: "arrow");
        await host.SeedAsync(saga);

        var accepted = await ActAsync(saga, "release-holds", "Distributor recalled the lot");

        accepted.Action.ShouldBe("ReleaseHolds");
        accepted.Effect.ShouldContain("cancel");
        var ended = await host.WaitForStateAsync(saga.CorrelationId, "Cancelled");
        ended.StatusReason!.ShouldContain("holds released");
        await host.Probe.WaitForAsync<ReleaseReservationHolds>(m => m.ReservationId == saga.CorrelationId);
    }

    [Fact]
    public async Task Releasing_the_holds_of_an_ended_saga_asks_inventory_again_and_leaves_the_saga_as_it_is()
    {
        var saga = Sagas.In("Expired", Sagas.NewBuyer("release-ended"), Later, distributors: "arrow");
        await host.SeedAsync(saga);

        var accepted = await ActAsync(saga, "release-holds", "Inventory still shows holds after expiry (INC-2231)");

        var release = await host.Probe.WaitForAsync<ReleaseReservationHolds>(m => m.ReservationId == saga.CorrelationId);
        release.Reason.ShouldContain(accepted.ActionId.ToString());
        (await host.SagaAsync(saga.CorrelationId)).CurrentState.ShouldBe("Expired");
        var detail = await host.GetJsonAsync<OpsApi.SagaDetail>($"/v1/ops/sagas/{saga.CorrelationId}");
        detail.Timeline[^1].ShouldSatisfyAllConditions(
            step => step.Kind.ShouldBe("OpsAction"),
            step => step.Event.ShouldBe("ReleaseHolds"),
            step => step.Detail.ShouldBe("Inventory still shows holds after expiry (INC-2231)"),
            step => step.Effect!.ShouldContain("stays Expired"));
    }

    [Fact]
    public async Task A_rescreen_reaches_the_saga_which_asks_compliance_again_and_the_reason_is_in_the_timeline()
    {
        var saga = Sagas.In("Held", Sagas.NewBuyer("rescreen"), Later, distributors: "arrow");
        await host.SeedAsync(saga);

        var accepted = await ActAsync(saga, "rescreen", "End user renamed itself; check the list again");

        var rescreen = await host.Probe.WaitForAsync<RescreenReservation>(m => m.ReservationId == saga.CorrelationId);
        rescreen.Cause.ShouldContain(accepted.ActionId.ToString());
        await host.Probe.WaitForAsync<ScreenReservation>(m => m.ReservationId == saga.CorrelationId);
        var after = await host.SagaAsync(saga.CorrelationId);
        after.CurrentState.ShouldBe("Held");
        after.StatusReason.ShouldBe($"Re-screening: requested by ops (ops action {accepted.ActionId})");
        var detail = await host.GetJsonAsync<OpsApi.SagaDetail>($"/v1/ops/sagas/{saga.CorrelationId}");
        detail.Timeline.Single(step => step.Kind == "OpsAction").Detail.ShouldBe("End user renamed itself; check the list again");
    }

    /// <summary>
    /// The saga handles a re-screen while the first screening is in flight and while committing (a rule change sends one
    /// there too), so ops may ask for one there; it was refused by a hand-kept list that left both states out.
    /// </summary>
    [Theory]
    [InlineData("Screening")]
    [InlineData("Confirming")]
    public async Task A_rescreen_is_accepted_wherever_the_saga_handles_one_while_screening_and_while_committing_included(string state)
    {
        var saga = Sagas.In(state, Sagas.NewBuyer("rescreen-" + state.ToLowerInvariant()), Later, distributors: "arrow");
        await host.SeedAsync(saga);

        var accepted = await ActAsync(saga, "rescreen", "Party list corrected; check again");

        accepted.StateAtRequest.ShouldBe(state);
        var rescreen = await host.Probe.WaitForAsync<RescreenReservation>(m => m.ReservationId == saga.CorrelationId);
        rescreen.Cause.ShouldContain(accepted.ActionId.ToString());
        await host.Probe.WaitForAsync<ScreenReservation>(m => m.ReservationId == saga.CorrelationId);
        var detail = await host.GetJsonAsync<OpsApi.SagaDetail>($"/v1/ops/sagas/{saga.CorrelationId}");
        detail.Timeline.Single(step => step.Kind == "OpsAction").Detail.ShouldBe("Party list corrected; check again");
    }

    [Theory]
    [InlineData("cancel", "Confirming")]
    [InlineData("cancel", "Confirmed")]
    [InlineData("cancel", "Rejected")]
    [InlineData("release-holds", "Screening")]
    [InlineData("release-holds", "Confirming")]
    [InlineData("release-holds", "Confirmed")]
    [InlineData("rescreen", "Cancelled")]
    [InlineData("rescreen", "Confirmed")]
    public async Task An_action_the_state_does_not_allow_is_a_conflict_and_leaves_no_audit(string action, string state)
    {
        var saga = Sagas.In(state, Sagas.NewBuyer("conflict"), Later, distributors: "arrow");
        await host.SeedAsync(saga);

        using var response = await host.PostJsonAsync($"/v1/ops/sagas/{saga.CorrelationId}/{action}", new { reason = "try it" });

        response.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var detail = await host.GetJsonAsync<OpsApi.SagaDetail>($"/v1/ops/sagas/{saga.CorrelationId}");
        detail.Timeline.ShouldNotContain(step => step.Kind == "OpsAction");
        detail.Actions.ShouldNotContain(a => a.Path.EndsWith(action, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("cancel")]
    [InlineData("release-holds")]
    [InlineData("rescreen")]
    public async Task Every_action_requires_a_reason(string action)
    {
        var saga = Sagas.In("Held", Sagas.NewBuyer("reason"), Later, distributors: "arrow");
        await host.SeedAsync(saga);

        foreach (var body in new object[] { new { }, new { reason = "   " }, new { reason = new string('x', 501) } })
        {
            using var response = await host.PostJsonAsync($"/v1/ops/sagas/{saga.CorrelationId}/{action}", body);
            response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await response.Content.ReadAsStringAsync()).ShouldContain("\"reason\"");
        }

        (await host.SagaAsync(saga.CorrelationId)).CurrentState.ShouldBe("Held");
    }

    [Fact]
    public async Task Acting_on_an_unknown_saga_is_not_found()
    {
        using var response = await host.PostJsonAsync($"/v1/ops/sagas/{Guid.NewGuid()}/cancel", new { reason = "no such thing" });

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    private async Task<OpsApi.OpsActionAccepted> ActAsync(Saga.ReservationState saga, string action, string reason)
    {
        using var response = await host.PostJsonAsync($"/v1/ops/sagas/{saga.CorrelationId}/{action}", new { reason });
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        response.Headers.Location!.ToString().ShouldBe($"/v1/ops/sagas/{saga.CorrelationId}");
        return (await response.Content.ReadFromJsonAsync<OpsApi.OpsActionAccepted>(OrderingHost.Json))!;
    }
}
