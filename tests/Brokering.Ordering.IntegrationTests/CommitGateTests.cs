using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The commit gate on real PostgreSQL and RabbitMQ with ordering's real saga: a cutoff moved while reservations wait
/// (a backlog, a buyer confirming by hand) stops every commit attempted after it, although no saga was told of the
/// move — as in a scramble, where the re-screens a rule change fans out queue behind the reservation traffic. The
/// stand-in compliance treats every change of its cutoff as a new rule set, so decisions taken before it no longer
/// vouch for a commit.
/// </summary>
public sealed class CommitGateTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Confirmations_after_an_unannounced_cutoff_move_commit_nothing_and_end_CutoffMissed()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var held = new List<Guid>();
        for (var i = 0; i < 8; i++)
        {
            held.Add(await host.SubmitAsync(Confirmation.Manual));
        }

        foreach (var id in held)
        {
            await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "Held", $"reservation {id} Held");
        }

        // A new rule set pulls the cutoff in to two seconds from now; no saga hears of it.
        var movedCutoff = DateTimeOffset.UtcNow.AddSeconds(2);
        dependencies.Compliance.Cutoff = movedCutoff;
        await Task.Delay(movedCutoff - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(200), Ct);

        foreach (var id in held)
        {
            await ConfirmAsync(host, id);
        }

        foreach (var id in held)
        {
            await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "CutoffMissed", $"reservation {id} CutoffMissed");
            await StandInOrderingHost.EventuallyAsync(
                () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)),
                $"every hold of {id} released");
            dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.CommittedAt == null);
        }

        dependencies.Compliance.VouchesRefused.ShouldBeGreaterThanOrEqualTo(held.Count);
    }

    [Fact]
    public async Task Commits_held_back_by_a_backlog_until_after_a_moved_cutoff_never_land_after_it()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        // Inventory's commit path is swamped: every commit waits in the durable scheduler for a later delivery.
        dependencies.Inventory.CommitsDown = true;
        var queued = new List<Guid>();
        for (var i = 0; i < 8; i++)
        {
            queued.Add(await host.SubmitAsync(Confirmation.Auto));
        }

        foreach (var id in queued)
        {
            await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "Confirming", $"reservation {id} Confirming");
        }

        await StandInOrderingHost.EventuallyAsync(() => host.RedeliveryScheduledAsync(":CommitReservationHolds"), "commits waiting for redelivery");
        var movedCutoff = DateTimeOffset.UtcNow.AddSeconds(2);
        dependencies.Compliance.Cutoff = movedCutoff;
        await Task.Delay(movedCutoff - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(200), Ct);
        dependencies.Inventory.CommitsDown = false;

        foreach (var id in queued)
        {
            await StandInOrderingHost.EventuallyAsync(
                async () => await host.StateAsync(id) is "CutoffMissed" or "Confirmed" or "Expired" or "Rejected" or "Cancelled",
                $"reservation {id} ended (now {await host.StateAsync(id)}: {(await host.SagaAsync(id)).StatusReason})");
            dependencies.Inventory.HoldsOf(id)
                .Where(hold => hold.CommittedAt is not null)
                .ShouldAllBe(hold => hold.CommittedAt < movedCutoff && hold.Status == StandInHoldStatus.Committed);
        }

        // The backlog outlived the moved cutoff, so none of them could be confirmed.
        foreach (var id in queued)
        {
            var saga = await host.SagaAsync(id);
            saga.CurrentState.ShouldBe("CutoffMissed", saga.StatusReason);
        }
    }

    [Fact]
    public async Task A_rule_change_that_still_allows_the_sale_lets_a_later_confirmation_commit_on_a_fresh_decision()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var id = await host.SubmitAsync(Confirmation.Manual);
        await host.ReachesAsync(id, "Held");

        // A new rule set that moves the cutoff later: the old decision no longer vouches, a new screening approves.
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(2);
        await ConfirmAsync(host, id);

        await host.ReachesAsync(id, "Confirmed");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Committed);
        // The first decision was refused; the commit rested on the one taken under the new rules.
        dependencies.Compliance.VouchesRefused.ShouldBe(1);
    }

    [Fact]
    public async Task A_reservation_screened_and_committed_in_one_event_commits_on_the_answer_given_with_its_screening()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);

        var id = await host.SubmitAsync(Confirmation.Auto);

        await host.ReachesAsync(id, "Confirmed");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Committed);
        // The approval came with the gate's answer, still good when the commit was made: compliance was not asked twice.
        dependencies.Compliance.Vouches.ShouldBe(0);
    }

    [Fact]
    public async Task A_confirmation_in_a_later_event_asks_compliance_again_whatever_the_screening_answered()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        // An answer given with the decision that would still be good when the buyer confirms.
        dependencies.Compliance.VouchWithDecisionFor = TimeSpan.FromMinutes(10);
        var id = await host.SubmitAsync(Confirmation.Manual);
        await host.ReachesAsync(id, "Held");

        await ConfirmAsync(host, id);

        await host.ReachesAsync(id, "Confirmed");
        dependencies.Compliance.Vouches.ShouldBe(1);
    }

    [Fact]
    public async Task A_party_listed_before_the_buyer_confirms_is_refused_at_the_gate_and_the_buyer_reads_no_evidence()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        dependencies.Compliance.VouchWithDecisionFor = null;
        var id = await host.SubmitAsync(Confirmation.Manual, endUser: "Acme Research");
        await host.ReachesAsync(id, "Held");

        // Listed after the approval and before the confirmation: the decision no longer vouches, the gate screens again,
        // and the denial (worded with the entry and the score, as compliance's evidence is) refuses the commit.
        dependencies.Compliance.List("Acme Research");
        dependencies.Compliance.Cutoff = dependencies.Compliance.Cutoff;
        await ConfirmAsync(host, id);

        await host.ReachesAsync(id, "Rejected");
        using var buyer = host.ClientWith(TestTokens.Buyer(await host.BuyerOfAsync(id)));
        var view = await buyer.GetStringAsync(new Uri($"/v1/reservations/{id}", UriKind.Relative), Ct);
        view.ShouldContain("refused by export screening (decision ", Case.Insensitive);
        view.ShouldNotContain("score");
        view.ShouldNotContain("Institute");
        view.ShouldNotContain("Entity List");
    }

    private static async Task ConfirmAsync(StandInOrderingHost host, Guid id)
    {
        using var buyer = host.ClientWith(TestTokens.Buyer(await host.BuyerOfAsync(id)));
        using var confirm = await buyer.PostAsync(new Uri($"/v1/reservations/{id}/confirm", UriKind.Relative), null, Ct);
        confirm.IsSuccessStatusCode.ShouldBeTrue(await confirm.Content.ReadAsStringAsync(Ct));
    }
}
