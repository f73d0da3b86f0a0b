using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Ops;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The metrics ordering exports at <c>/metrics</c>. OpenTelemetry listens to every meter named
/// <c>Brokering.*</c> in the process, so the other test hosts' sagas would be counted too: this
/// collection runs alone, after the others (and their hosts) are gone.
/// </summary>
[Collection(nameof(OpsMetricsTests))]
public sealed class OpsMetricsTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    [Fact]
    public async Task Metrics_export_reservations_per_state_latencies_from_submit_and_time_in_each_state()
    {
        // A saga waiting for its holds, then driven the rest of the way by the events inventory would publish.
        var saga = Sagas.In("Allocating", Sagas.NewBuyer("metrics"), DateTimeOffset.UtcNow.AddHours(1));
        await host.SeedAsync(saga);
        var id = saga.CorrelationId;

        // The answers as the activities' consumers send them to the saga (inventory's own announcements are not bound there).
        var sagaExchange = await host.Probe.Send.GetSendEndpoint(Sagas.Exchange);
        await sagaExchange.Send(new HoldsPlaced(id, saga.PlanVersion,
            [new PlacedHold(Guid.NewGuid(), Sagas.Sku, "arrow", "HKG-1", 40, 40, 31000m, "USD")], DateTimeOffset.UtcNow.AddMinutes(10)));
        await host.WaitForStateAsync(id, "Held");
        await host.Probe.Publish.Publish(new ReservationConfirmationRequested(id, DateTimeOffset.UtcNow));
        await host.WaitForStateAsync(id, "Confirming");
        await sagaExchange.Send(new HoldsCommitted(id, [Guid.NewGuid()], 40, DateTimeOffset.UtcNow));
        await host.WaitForStateAsync(id, "Confirmed");

        // The gauge is cached for 5 s; wait it out so the Confirmed saga is counted.
        await Task.Delay(ReservationMetrics.CountsLifetime + TimeSpan.FromMilliseconds(500));
        var metrics = await host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Sample(metrics, "brokering_ordering_reservations", "state=\"Confirmed\"").ShouldBe(1);
        Sample(metrics, "brokering_ordering_reservations", "state=\"Screening\"").ShouldBe(0);
        Sample(metrics, "brokering_ordering_reservation_submit_to_held_seconds_count").ShouldBe(1);
        Sample(metrics, "brokering_ordering_reservation_submit_to_confirmed_seconds_count").ShouldBe(1);
        Sample(metrics, "brokering_ordering_reservation_submit_to_confirmed_seconds_sum").ShouldBeGreaterThanOrEqualTo(600, "seeded as submitted 10 minutes ago");
        Sample(metrics, "brokering_ordering_reservation_time_in_state_seconds_count", "state=\"Allocating\"").ShouldBe(1);
        Sample(metrics, "brokering_ordering_reservation_time_in_state_seconds_count", "state=\"Held\"").ShouldBe(1);
        Sample(metrics, "brokering_ordering_reservation_time_in_state_seconds_count", "state=\"Confirming\"").ShouldBe(1);
    }

    /// <summary>The value of the first sample of <paramref name="name"/> whose labels contain <paramref name="label"/>.</summary>
    private static double Sample(string exposition, string name, string? label = null)
    {
        var line = exposition.Split('\n').FirstOrDefault(line =>
            (line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
            && (label is null || line.Contains(label, StringComparison.Ordinal)));
        line.ShouldNotBeNull($"No sample {name} {label} in:\n{exposition}");
        var value = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
        return double.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
    }
}

[CollectionDefinition(nameof(OpsMetricsTests), DisableParallelization = true)]
public sealed class OpsMetricsCollection;
