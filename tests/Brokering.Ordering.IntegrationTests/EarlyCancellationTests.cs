using System.Net;
using System.Net.Http.Json;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Idempotency;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// A buyer may cancel the moment a submission is accepted, while the reservation is still Submitted and its saga has no
/// row yet. The request was dropped as an event for no reservation, with the buyer told 202 "Cancelling": the
/// reservation went on to be held, and kept the stock until its cutoff.
/// </summary>
public sealed class EarlyCancellationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_cancellation_that_reaches_the_saga_before_the_submission_ends_the_reservation_once_it_starts()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var buyer = Sagas.NewBuyer("early-cancel");
        var key = $"early-{Guid.NewGuid():N}";
        var id = IdempotencyStore.ReservationIdFor(buyer, key);

        // The cancellation overtakes the submission (they travel as separate messages): it finds no saga, and waits for one.
        await host.Services.GetRequiredService<IBus>().Publish(new ReservationCancellationRequested(id, "changed plans", buyer, DateTimeOffset.UtcNow), Ct);
        await StandInOrderingHost.EventuallyAsync(
            () => host.RedeliveryScheduledAsync(nameof(ReservationCancellationRequested)), "the cancellation to wait for the saga");

        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/reservations", UriKind.Relative))
        {
            Content = JsonContent.Create(new
            {
                buyerReference = "PO-EARLY-CANCEL",
                endUser = new { name = "Lion City Compute Pte. Ltd.", country = "SG" },
                destinationCountry = "SG",
                fillPolicy = new { kind = "AllOrNone" },
                confirmation = "Manual",
                lines = new[] { new { sku = StandInCompliance.Sku, quantity = 4, maxUnitPrice = 20_000m, currency = "USD" } },
            }),
            Headers = { { "Idempotency-Key", key } },
        };
        using var submitted = await client.SendAsync(request, Ct);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync(Ct));

        await host.ReachesAsync(id, "Cancelled");
        (await host.SagaAsync(id)).StatusReason.ShouldNotBeNull().ShouldContain("changed plans");
    }
}
