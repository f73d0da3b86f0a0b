using System.Net.Http.Json;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Compliance or inventory down, on real PostgreSQL and RabbitMQ with ordering's real saga and durable scheduler:
/// the saga waits without blocking anyone, the activity is redelivered through the scheduler for as long as it takes,
/// and the cutoff still ends a reservation whose dependency did not come back in time, with its holds released once
/// inventory can be reached again. The stand-ins fail with UNAVAILABLE while down; durations are configuration.
/// </summary>
public sealed class DependencyOutageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Inventory_down_past_the_in_memory_retries_is_waited_for_through_the_durable_scheduler_and_the_reservation_is_confirmed_once_it_is_back()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Inventory.Down = true;

        var id = await host.SubmitAsync(Confirmation.Auto);

        // The in-memory retries are spent and the plan waits in the scheduler's table, not in a consumer slot.
        await StandInOrderingHost.EventuallyAsync(() => host.RedeliveryScheduledAsync(":AllocateReservation"), "a scheduled redelivery of the allocation");
        (await host.StateAsync(id)).ShouldBe("Allocating");
        dependencies.Inventory.Refused.ShouldBePositive();
        dependencies.Inventory.HoldsOf(id).ShouldBeEmpty();
        dependencies.Inventory.Down = false;

        await host.ReachesAsync(id, "Confirmed");
        var holds = dependencies.Inventory.HoldsOf(id);
        holds.ShouldNotBeEmpty();
        holds.ShouldAllBe(hold => hold.Status == StandInHoldStatus.Committed);
    }

    [Fact]
    public async Task Inventory_down_until_the_cutoff_ends_a_held_reservation_CutoffMissed_and_its_holds_are_released_once_inventory_is_back()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var id = await host.SubmitAsync(Confirmation.Manual);
        await host.ReachesAsync(id, "Held");
        var placed = dependencies.Inventory.HoldsOf(id);
        placed.ShouldNotBeEmpty();

        dependencies.Inventory.Down = true;
        // A new rule set brings the cutoff a few seconds ahead, while inventory is unreachable.
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddSeconds(3);
        await host.Probe.Publish.Publish(new RescreenReservation(id, "rule set moved the cutoff"), Ct);

        await host.ReachesAsync(id, "CutoffMissed");
        await StandInOrderingHost.EventuallyAsync(() => host.RedeliveryScheduledAsync(":ReleaseReservationHolds"), "a scheduled redelivery of the release");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Active);
        dependencies.Inventory.ReleasesReceived.ShouldNotContain(id.ToString());
        dependencies.Inventory.Down = false;

        await StandInOrderingHost.EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)),
            "every hold released");
        dependencies.Inventory.ReleasesReceived.ShouldContain(id.ToString());
        dependencies.Inventory.HoldsOf(id).Select(hold => hold.HoldId).Order().ShouldBe(placed.Select(hold => hold.HoldId).Order());
    }

    [Fact]
    public async Task Inventory_down_while_committing_until_the_cutoff_ends_CutoffMissed_with_nothing_committed_and_every_hold_released()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        dependencies.Inventory.CommitsDown = true;
        var id = await host.SubmitAsync(Confirmation.Auto);
        await host.ReachesAsync(id, "Confirming");
        await StandInOrderingHost.EventuallyAsync(() => host.RedeliveryScheduledAsync(":CommitReservationHolds"), "a scheduled redelivery of the commit");

        dependencies.Inventory.Down = true;
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddSeconds(3);
        await host.Probe.Publish.Publish(new RescreenReservation(id, "rule set moved the cutoff"), Ct);
        await StandInOrderingHost.EventuallyAsync(() => host.RedeliveryScheduledAsync(":ReleaseReservationHolds"), "a scheduled redelivery of the release");
        // Whether a commit landed before the cutoff is inventory's to say, so the saga waits for it.
        (await host.StateAsync(id)).ShouldBe("Confirming");
        dependencies.Inventory.CommitsDown = false;
        dependencies.Inventory.Down = false;

        await host.ReachesAsync(id, "CutoffMissed");
        await StandInOrderingHost.EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)),
            "every hold released");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.CommittedAt == null);
    }

    [Fact]
    public async Task Reservations_waiting_on_a_down_compliance_do_not_hold_up_a_cancellation_that_needs_only_inventory_and_resume_once_it_is_back()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var ready = await host.SubmitAsync(Confirmation.Manual);
        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(ready) == "Held", "the first reservation Held");

        dependencies.Compliance.Down = true;
        // More than an endpoint consumes at once (RabbitMQ prefetch: twice the cores, at most 16): were each waiting in a
        // consumer slot, every slot would be taken.
        var waiting = new List<Guid>();
        for (var i = 0; i < 20; i++)
        {
            waiting.Add(await host.SubmitAsync(Confirmation.Auto));
        }

        await StandInOrderingHost.EventuallyAsync(() => host.RedeliveryScheduledAsync(":ScreenReservation"), "a scheduled redelivery of a screening");
        dependencies.Compliance.Refused.ShouldBePositive();
        // Every one of them has come through the broker and waits for compliance (on a busy machine the last submissions
        // may still be on their way when the first redelivery is scheduled).
        foreach (var id in waiting)
        {
            await host.ReachesAsync(id, "Screening");
        }

        // A commit needs compliance to vouch for it (the commit gate fails closed), so what must not wait here is a
        // cancellation: it needs only inventory, to release the holds.
        using (var buyer = host.ClientWith(TestTokens.Buyer(await host.BuyerOfAsync(ready))))
        {
            using var cancel = await buyer.PostAsJsonAsync(
                new Uri($"/v1/reservations/{ready}/cancel", UriKind.Relative), new { reason = "changed plans" }, Ct);
            cancel.IsSuccessStatusCode.ShouldBeTrue(await cancel.Content.ReadAsStringAsync(Ct));
        }

        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(ready) == "Cancelled", "the ready reservation Cancelled");
        await StandInOrderingHost.EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(ready).All(hold => hold.Status == StandInHoldStatus.Released)),
            "the cancelled reservation's holds released");
        foreach (var id in waiting)
        {
            (await host.StateAsync(id)).ShouldBe("Screening");
        }

        dependencies.Compliance.Down = false;
        foreach (var id in waiting)
        {
            await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "Confirmed", $"waiting reservation {id} Confirmed");
        }
    }

    [Fact]
    public async Task A_party_listed_while_the_commit_is_in_flight_ends_Rejected_never_Confirmed_and_its_holds_are_released()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Inventory.CommitsDown = true;
        var id = await host.SubmitAsync(Confirmation.Auto, endUser: "Acme Research");
        await host.ReachesAsync(id, "Confirming");

        dependencies.Compliance.List("Acme Research");
        await host.Probe.Publish.Publish(new RescreenReservation(id, "restricted-party list update"), Ct);
        await host.ReachesAsync(id, "Rejected");
        // The commit, redelivered once inventory's commit path is back, must not confirm it.
        dependencies.Inventory.CommitsDown = false;

        await StandInOrderingHost.EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)),
            "every hold released");
        await StandInOrderingHost.EventuallyAsync(async () => !await host.RedeliveryScheduledAsync(":CommitReservationHolds"), "the commit's redeliveries over");
        var saga = await host.SagaAsync(id);
        saga.CurrentState.ShouldBe("Rejected");
        saga.StatusReason!.ShouldContain("Refused by export screening");
        saga.History.Select(transition => transition.To).ShouldNotContain("Confirmed");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Released);
    }
    [Fact]
    public async Task A_party_listed_while_a_commit_waits_is_re_screened_without_the_buyer_reading_whom_the_list_added()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Inventory.CommitsDown = true;
        var id = await host.SubmitAsync(Confirmation.Auto, endUser: "Acme Research");
        await host.ReachesAsync(id, "Confirming");

        await host.Probe.Publish.Publish(
            new Brokering.Contracts.Compliance.PartyListed(Guid.NewGuid(), "Quiet Photonics Co., Ltd.", ["QP"], "CN", "v42", DateTimeOffset.UtcNow), Ct);

        await StandInOrderingHost.EventuallyAsync(
            async () => (await host.SagaAsync(id)).StatusReason?.Contains("Re-screening", StringComparison.Ordinal) == true, "the re-screen under way");
        var reason = (await host.SagaAsync(id)).StatusReason!;
        reason.ShouldContain("restricted-party list changed (v42)");
        reason.ShouldNotContain("Quiet Photonics");
    }
}
