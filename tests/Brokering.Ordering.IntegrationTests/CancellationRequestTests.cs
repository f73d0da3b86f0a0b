using System.Net;
using System.Net.Http.Json;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// A buyer who asks again to cancel a running reservation (a retrying client, an impatient buyer while a burst queues)
/// is answered 202 again, and the saga is asked once: every repeat was one more saga event, and in a burst those
/// repeats were most of them.
/// </summary>
public sealed class CancellationRequestTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Repeated_cancellations_of_a_running_reservation_are_accepted_and_reach_the_saga_once()
    {
        var buyer = Sagas.NewBuyer("cancel");
        var saga = Sagas.In("Held", buyer, cutoff: DateTimeOffset.UtcNow.AddHours(1), distributors: "arrow");
        await host.SeedAsync(saga);
        using var client = host.ClientWith(TestTokens.Buyer(buyer));

        // The saga is busy with the reservation (its row locked) while the buyer asks three times.
        using (var scope = host.Services.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
            await using var busy = await db.Database.BeginTransactionAsync(Ct);
            await db.Database.ExecuteSqlAsync($"SELECT 1 FROM reservation_sagas WHERE reservation_id = {saga.CorrelationId} FOR UPDATE", Ct);
            for (var i = 0; i < 3; i++)
            {
                using var response = await client.PostAsJsonAsync(
                    new Uri($"/v1/reservations/{saga.CorrelationId}/cancel", UriKind.Relative), new { reason = "changed plans" }, Ct);
                response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(Ct));
            }

            await host.Probe.WaitForAsync<ReservationCancellationRequested>(m => m.ReservationId == saga.CorrelationId);
            await Task.Delay(TimeSpan.FromSeconds(1), Ct);
            host.Probe.All<ReservationCancellationRequested>(m => m.ReservationId == saga.CorrelationId).Count.ShouldBe(1);
        }

        (await host.WaitForStateAsync(saga.CorrelationId, "Cancelled")).StatusReason.ShouldNotBeNull().ShouldContain("changed plans");
        using var late = await client.PostAsJsonAsync(
            new Uri($"/v1/reservations/{saga.CorrelationId}/cancel", UriKind.Relative), new { reason = "again" }, Ct);
        late.StatusCode.ShouldBe(HttpStatusCode.Conflict);
    }

    // The request before reached the saga at a step that does not take a cancellation (a commit in flight, since refused
    // for a shortfall and the reservation waiting for stock again): the saga never acted on it, so this one must reach it.
    [Fact]
    public async Task A_cancellation_asked_at_an_earlier_step_of_the_saga_does_not_swallow_one_asked_at_a_later_step()
    {
        var buyer = Sagas.NewBuyer("cancel-step");
        var saga = Sagas.In("Held", buyer, cutoff: DateTimeOffset.UtcNow.AddHours(1), distributors: "arrow");
        await host.SeedAsync(saga);
        using (var scope = host.Services.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO cancellation_requests (reservation_id, requested_at, saga_step_at)
                VALUES ({saga.CorrelationId}, {saga.UpdatedAt.AddSeconds(-2)}, {saga.UpdatedAt.AddSeconds(-3)})
                """, Ct);
        }

        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var response = await client.PostAsJsonAsync(
            new Uri($"/v1/reservations/{saga.CorrelationId}/cancel", UriKind.Relative), new { reason = "asked again" }, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(Ct));
        (await host.WaitForStateAsync(saga.CorrelationId, "Cancelled")).StatusReason.ShouldNotBeNull().ShouldContain("asked again");
    }
}
