using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Saga;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// A rise of stock on real PostgreSQL and RabbitMQ with ordering's real saga: it wakes the oldest waiting reservations
/// its units can serve, not the whole queue, and a reservation that cannot take the stock on offer never stands in a
/// younger buyer's way. The stand-in inventory offers plenty to whoever asks, so a reservation that is woken is held,
/// and one that is not stays AwaitingStock.
/// </summary>
public sealed class StockWakeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_rise_of_stock_wakes_the_oldest_waiting_reservations_its_units_can_serve_and_no_others()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var sku = UniqueSku();
        var queue = Enumerable.Range(0, 5).Select(i => Waiting(sku, lacking: 4, submittedMinutesAgo: 50 - i)).ToArray();
        await host.SeedAsync(queue);

        await host.Probe.Publish.Publish(new StockAvailable(sku, 8, DateTimeOffset.UtcNow), Ct);

        await host.WaitForStateAsync(queue[0].CorrelationId, "Held");
        await host.WaitForStateAsync(queue[1].CorrelationId, "Held");
        await Task.Delay(TimeSpan.FromSeconds(2), Ct);
        foreach (var younger in queue.Skip(2))
        {
            (await host.StateAsync(younger.CorrelationId)).ShouldBe("AwaitingStock");
            dependencies.Inventory.HoldsOf(younger.CorrelationId).ShouldBeEmpty();
        }
    }

    [Fact]
    public async Task A_reservation_that_passed_the_stock_over_is_tried_again_without_using_up_the_units_a_younger_buyer_can_take()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var sku = UniqueSku();
        var passedOver = Waiting(sku, lacking: 4, submittedMinutesAgo: 50);
        passedOver.PassedOverAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        var next = Waiting(sku, lacking: 4, submittedMinutesAgo: 40);
        var youngest = Waiting(sku, lacking: 4, submittedMinutesAgo: 30);
        await host.SeedAsync(passedOver, next, youngest);

        await host.Probe.Publish.Publish(new StockAvailable(sku, 4, DateTimeOffset.UtcNow), Ct);

        // The stock on offer changed since it was passed over, so it is tried again (and here it can take it)...
        (await host.WaitForStateAsync(passedOver.CorrelationId, "Held")).PassedOverAt.ShouldBeNull();
        // ...while the four units announced still go to the oldest buyer who lacks them.
        await host.WaitForStateAsync(next.CorrelationId, "Held");
        await Task.Delay(TimeSpan.FromSeconds(2), Ct);
        (await host.StateAsync(youngest.CorrelationId)).ShouldBe("AwaitingStock");
    }

    [Fact]
    public async Task A_top_up_that_finds_stock_only_above_the_price_ceiling_marks_the_reservation_passed_over()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var sku = UniqueSku();
        // The stand-in inventory offers at 15,000 USD a unit.
        var frugal = Waiting(sku, lacking: 4, submittedMinutesAgo: 50, maxUnitPrice: 10_000m);
        await host.SeedAsync(frugal);

        await host.Probe.Publish.Publish(new StockAvailable(sku, 100, DateTimeOffset.UtcNow), Ct);

        await StandInOrderingHost.EventuallyAsync(async () => (await host.SagaAsync(frugal.CorrelationId)).PassedOverAt is not null,
            "the reservation marked passed over");
        var saga = await host.SagaAsync(frugal.CorrelationId);
        saga.CurrentState.ShouldBe("AwaitingStock");
        saga.PlanVersion.ShouldBe(2);
        saga.StatusReason.ShouldNotBeNull().ShouldContain("10000");
    }

    private static string UniqueSku() => $"TEST-WAKE-{Guid.NewGuid():N}"[..24].ToUpperInvariant();

    /// <summary>A reservation of one line that waits for <paramref name="lacking"/> units, nothing held yet, allowing a partial fill.</summary>
    private static ReservationState Waiting(string sku, long lacking, int submittedMinutesAgo, decimal maxUnitPrice = 32_000m)
    {
        var saga = Sagas.In("AwaitingStock", Sagas.NewBuyer("wake"), cutoff: null, sku: sku, quantity: lacking);
        saga.SubmittedAt = DateTimeOffset.UtcNow.AddMinutes(-submittedMinutesAgo);
        saga.FillPolicy = FillPolicy.AllowPartial;
        saga.MinFillRatio = 0.5m;
        saga.Lines = [new ReservationLine(sku, lacking, maxUnitPrice, "USD")];
        return saga;
    }
}
