using System.Net;
using System.Text.Json;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Saga;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>A buyer's confirmation over REST is taken only when the saga would act on it, and refused with the reason otherwise.</summary>
public sealed class ConfirmationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_confirmation_below_the_minimum_fill_is_refused_with_409_saying_how_much_is_held_and_the_reservation_keeps_waiting()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var waiting = PartlyHeld(held: 10, of: 40, minFillRatio: 0.5m);
        await host.SeedAsync(waiting);

        using var response = await ConfirmAsync(host, waiting);

        response.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var detail = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("detail").GetString();
        detail.ShouldBe("10 of 40 units are held; the reservation can be confirmed once at least 0.5 of them are (minFillRatio).");
        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        (await host.SagaAsync(waiting.CorrelationId)).ConfirmationPending.ShouldBeFalse();
        (await host.StateAsync(waiting.CorrelationId)).ShouldBe("AwaitingStock");
    }

    [Fact]
    public async Task A_confirmation_once_the_minimum_fill_is_held_is_accepted_and_the_saga_commits()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var waiting = PartlyHeld(held: 20, of: 40, minFillRatio: 0.5m);
        await host.SeedAsync(waiting);

        using var response = await ConfirmAsync(host, waiting);

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(Ct));
        // Taken means committing: the seeded hold is unknown to the stand-in inventory, so what follows the commit is
        // not this test's concern.
        await StandInOrderingHost.EventuallyAsync(
            async () => (await host.SagaAsync(waiting.CorrelationId)).History.Any(step => step.To == "Confirming"), "the saga to take the confirmation");
    }

    private static async Task<HttpResponseMessage> ConfirmAsync(StandInOrderingHost host, ReservationState saga)
    {
        using var buyer = host.ClientWith(TestTokens.Buyer(saga.BuyerId));
        return await buyer.PostAsync(new Uri($"/v1/reservations/{saga.CorrelationId}/confirm", UriKind.Relative), null, Ct);
    }

    private static ReservationState PartlyHeld(long held, long of, decimal minFillRatio)
    {
        var saga = Sagas.In("AwaitingStock", Sagas.NewBuyer("confirm"), cutoff: null, quantity: of, distributors: ["dist-a"]);
        saga.FillPolicy = FillPolicy.AllowPartial;
        saga.MinFillRatio = minFillRatio;
        saga.Allocations = [saga.Allocations[0] with { Quantity = held }];
        return saga;
    }
}
