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
        await host.ReachesAsync(id, "Confirming");

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
        await host.ReachesAsync(id, "CutoffMissed");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.CommittedAt == null);
    }

    [Fact]
    public async Task A_cutoff_moved_earlier_reaches_a_held_reservation_at_once_while_compliance_is_down_and_ends_it_CutoffMissed_when_it_passes()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var id = await host.SubmitAsync(Confirmation.Manual);
        await host.ReachesAsync(id, "Held");
        var timerBefore = (await host.SagaAsync(id)).CutoffTimerTokenId;

        // The rule set is published, and compliance cannot answer a re-screen from now on.
        dependencies.Compliance.Down = true;
        var moved = await PublishCutoffChangeAsync(host, dependencies, TimeSpan.FromSeconds(10));

        await CutoffTakenAtOnceAsync(host, id, moved, timerBefore);
        await host.ReachesAsync(id, "CutoffMissed");
        await StandInOrderingHost.EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)), "every hold released");
        dependencies.Compliance.Down.ShouldBeTrue("compliance never answered the re-screen");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.CommittedAt == null);
    }

    [Fact]
    public async Task A_cutoff_moved_earlier_reaches_a_reservation_still_screening_at_once_and_ends_it_CutoffMissed_when_it_passes()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        dependencies.Compliance.Down = true;
        var id = await host.SubmitAsync(Confirmation.Auto);
        await host.ReachesAsync(id, "Screening");

        var moved = await PublishCutoffChangeAsync(host, dependencies, TimeSpan.FromSeconds(10));

        // Its screening deadline is hours away: only the moved cutoff can end it this soon.
        await CutoffTakenAtOnceAsync(host, id, moved, timerBefore: null);
        await host.ReachesAsync(id, "CutoffMissed");
        dependencies.Inventory.HoldsOf(id).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_cutoff_moved_earlier_while_committing_with_inventory_and_compliance_down_is_taken_at_once_and_nothing_is_committed_after_it()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        dependencies.Inventory.CommitsDown = true;
        var id = await host.SubmitAsync(Confirmation.Auto);
        await host.ReachesAsync(id, "Confirming");
        var timerBefore = (await host.SagaAsync(id)).CutoffTimerTokenId;

        dependencies.Compliance.Down = true;
        var moved = await PublishCutoffChangeAsync(host, dependencies, TimeSpan.FromSeconds(10));

        await CutoffTakenAtOnceAsync(host, id, moved, timerBefore);
        // Inventory's commit path comes back once the moved cutoff has passed, compliance still down: the saga's own timer
        // for the moved cutoff has released the holds, with no answer from compliance.
        await Task.Delay(moved - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(500), Ct);
        dependencies.Inventory.CommitsDown = false;
        await StandInOrderingHost.EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)), "every hold released");
        (await host.StateAsync(id)).ShouldBe("Confirming", "only the commit's answer ends it, and the commit waits for compliance");
        dependencies.Compliance.Down = false;

        await host.ReachesAsync(id, "CutoffMissed");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.CommittedAt == null);
        (await host.SagaAsync(id)).History.Select(transition => transition.To).ShouldNotContain("Confirmed");
    }

    [Fact]
    public async Task A_party_listed_while_a_commit_waits_for_inventory_is_screened_again_and_the_reservation_ends_Rejected_with_nothing_committed()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        dependencies.Inventory.CommitsDown = true;
        var id = await host.SubmitAsync(Confirmation.Auto, endUser: "Acme Research");
        await host.ReachesAsync(id, "Confirming");

        // Listed, as compliance's list change outdates every decision taken before it.
        dependencies.Compliance.List("Acme Research");
        dependencies.Compliance.Cutoff = dependencies.Compliance.Cutoff;
        await host.Probe.Publish.Publish(new PartyListed(Guid.NewGuid(), "Acme Research", [], "SG", "v2", DateTimeOffset.UtcNow), Ct);

        await host.ReachesAsync(id, "Rejected");
        dependencies.Inventory.CommitsDown = false;
        await StandInOrderingHost.EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)), "every hold released");
        await StandInOrderingHost.EventuallyAsync(async () => !await host.RedeliveryScheduledAsync(":CommitReservationHolds"), "the commit's redeliveries over");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Released && hold.CommittedAt == null);
        (await host.SagaAsync(id)).History.Select(transition => transition.To).ShouldNotContain("Confirmed");
    }

    /// <summary>
    /// Publishes a rule set moving the stand-ins' SKU's cutoff for SG to <paramref name="fromNow"/> from now, as compliance
    /// does: its own answers carry it from now on, and ordering hears of it through <c>CutoffChanged</c>.
    /// </summary>
    private static async Task<DateTimeOffset> PublishCutoffChangeAsync(StandInOrderingHost host, StandInDependencies dependencies, TimeSpan fromNow)
    {
        var moved = DateTimeOffset.UtcNow.Add(fromNow);
        dependencies.Compliance.Cutoff = moved;
        await host.Probe.Publish.Publish(
            new CutoffChanged("rule-change-test", [StandInCompliance.Sku], ["SG"], moved, DateTimeOffset.UtcNow), Ct);
        return moved;
    }

    /// <summary>The saga's cutoff column and its cutoff timer moved to <paramref name="moved"/> before it passed.</summary>
    private static async Task CutoffTakenAtOnceAsync(StandInOrderingHost host, Guid id, DateTimeOffset moved, Guid? timerBefore)
    {
        await StandInOrderingHost.EventuallyAsync(async () =>
        {
            var saga = await host.SagaAsync(id);
            return saga.Cutoff is { } cutoff && (cutoff - moved).Duration() < TimeSpan.FromMilliseconds(1)
                && saga.CutoffTimerTokenId is { } timer && timer != timerBefore;
        }, "the moved cutoff and its timer taken");
        DateTimeOffset.UtcNow.ShouldBeLessThan(moved, "the moved cutoff was taken at once, not when it passed");
    }

    [Fact]
    public async Task A_cutoff_change_for_other_destinations_leaves_a_reservation_alone()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var id = await host.SubmitAsync(Confirmation.Manual);
        await host.ReachesAsync(id, "Held");
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
