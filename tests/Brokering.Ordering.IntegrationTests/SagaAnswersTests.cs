using Brokering.Contracts.Inventory;
using Brokering.Ordering.IntegrationTests.Support;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The saga hears inventory's answers from ordering's own calls, not from the events inventory publishes for
/// distributors: those would be one more consume per reservation, waiting on the saga's row while the event that made
/// the call still holds it.
/// </summary>
public sealed class SagaAnswersTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    [Fact]
    public async Task Inventorys_published_HoldsPlaced_does_not_reach_the_saga_and_the_answer_sent_to_its_queue_does()
    {
        var saga = Sagas.In("Allocating", Sagas.NewBuyer("answers"), DateTimeOffset.UtcNow.AddHours(1));
        await host.SeedAsync(saga);
        var placed = new HoldsPlaced(saga.CorrelationId, saga.PlanVersion,
            [new PlacedHold(Guid.NewGuid(), Sagas.Sku, "arrow", "HKG-1", 40, 40, 31000m, "USD")], DateTimeOffset.UtcNow.AddMinutes(10));

        await host.Probe.Publish.Publish(placed, TestContext.Current.CancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
        (await host.SagaAsync(saga.CorrelationId)).CurrentState.ShouldBe("Allocating");

        var sagaQueue = await host.Probe.Send.GetSendEndpoint(Saga.ReservationSagaQueue.Address);
        await sagaQueue.Send(placed, TestContext.Current.CancellationToken);
        await host.WaitForStateAsync(saga.CorrelationId, "Held");
    }
}
