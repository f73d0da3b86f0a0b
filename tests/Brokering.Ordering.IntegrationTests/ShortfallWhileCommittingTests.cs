using System.Net;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// A distributor's stock falls short while the buyer's confirmation is being committed: the commit is refused because a
/// hold it names was taken back, and the reservation allocates again and commits on the same confirmation instead of
/// ending Expired. The real saga, ordering's commit path and its reading of inventory's refusal, on real PostgreSQL and
/// RabbitMQ, with the stand-in inventory.
/// </summary>
public sealed class ShortfallWhileCommittingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_confirmation_whose_holds_were_taken_back_is_refused_then_re_allocated_and_committed_when_the_shortfall_is_told()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var id = await host.SubmitAsync(Confirmation.Manual);
        await host.ReachesAsync(id, "Held");
        var takenBack = dependencies.Inventory.TakeBack(id);
        takenBack.ShouldNotBeEmpty();

        using (var buyer = host.ClientWith(TestTokens.Buyer(await host.BuyerOfAsync(id))))
        using (var confirm = await buyer.PostAsync(new Uri($"/v1/reservations/{id}/confirm", UriKind.Relative), null, Ct))
        {
            confirm.StatusCode.ShouldBe(HttpStatusCode.Accepted, await confirm.Content.ReadAsStringAsync(Ct));
        }

        // Inventory refused the commit (a named hold is no longer active) before its shortfall event reached the saga.
        await host.ReachesAsync(id, "AwaitingStock");
        (await host.SagaAsync(id)).ConfirmationPending.ShouldBeTrue();
        await dependencies.Inventory.TellShortfallAsync(id, takenBack, 4);

        await host.ReachesAsync(id, "Confirmed");
        var holds = dependencies.Inventory.HoldsOf(id);
        holds.Where(hold => hold.Status == StandInHoldStatus.Committed).Select(hold => hold.HoldId).ShouldNotContain(hold => takenBack.Contains(hold));
        holds.Where(hold => hold.Status == StandInHoldStatus.Committed).Sum(hold => hold.Quantity).ShouldBe(4);
        (await host.SagaAsync(id)).History.Select(step => step.To).ShouldBe(
            ["Screening", "Allocating", "Held", "Confirming", "AwaitingStock", "Allocating", "Confirming", "Confirmed"]);
    }
}
