using Brokering.Contracts.Compliance;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Compliance's rule-change events published into a running ordering service on real RabbitMQ: they reach the
/// reservations they concern in every live state, including one whose commit is stuck because inventory is down.
/// </summary>
public sealed class RuleChangeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_cutoff_moved_into_the_near_future_ends_a_reservation_stuck_committing_CutoffMissed_with_nothing_committed()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        dependencies.Inventory.CommitsDown = true;
        var id = await host.SubmitAsync(Confirmation.Auto);
        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "Confirming", "the reservation Confirming");

        var moved = DateTimeOffset.UtcNow.AddSeconds(3);
        dependencies.Compliance.Cutoff = moved;
        await host.Probe.Publish.Publish(
            new CutoffChanged("rule-change-test", [StandInCompliance.Sku], ["SG"], moved, DateTimeOffset.UtcNow), Ct);

        // The re-screen reaches the saga while it commits: it records the earlier cutoff and, once that passes, releases
        // the holds; the commit, when inventory is back, finds nothing it may commit.
        await StandInOrderingHost.EventuallyAsync(async () => (await host.SagaAsync(id)).Cutoff <= moved, "the moved cutoff recorded");
        // Inventory comes back only after the moved cutoff (before it, the commit would rightly land and confirm).
        await Task.Delay(moved - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(500), Ct);
        dependencies.Inventory.CommitsDown = false;
        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "CutoffMissed", "the reservation CutoffMissed");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.CommittedAt == null);
    }

    [Fact]
    public async Task A_cutoff_change_for_other_destinations_leaves_a_reservation_alone()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var id = await host.SubmitAsync(Confirmation.Manual);
        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "Held", "the reservation Held");
        var before = (await host.SagaAsync(id)).DecisionId;

        await host.Probe.Publish.Publish(
            new CutoffChanged("elsewhere", [StandInCompliance.Sku], ["CN", "MO"], DateTimeOffset.UtcNow.AddMinutes(1), DateTimeOffset.UtcNow), Ct);
        // A listing concerns everyone in flight: it is the marker that the change above has been handled before it.
        await host.Probe.Publish.Publish(
            new PartyListed(Guid.NewGuid(), "Someone Else Ltd.", [], "CN", "v2", DateTimeOffset.UtcNow), Ct);

        await StandInOrderingHost.EventuallyAsync(async () => (await host.SagaAsync(id)).DecisionId != before, "the listing's re-screen");
        var saga = await host.SagaAsync(id);
        saga.CurrentState.ShouldBe("Held");
        saga.Cutoff!.Value.ShouldBe(dependencies.Compliance.Cutoff!.Value, TimeSpan.FromMilliseconds(1));
    }
}
