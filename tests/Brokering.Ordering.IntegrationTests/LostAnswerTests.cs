using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Inventory did what ordering asked, but neither its answer nor its event reached the saga (the caller's replica was
/// killed with the call in flight, and the event found the saga before its rolled-back step): the retried call is
/// answered from what inventory already did and announces nothing new, so the saga must learn the outcome from that
/// answer. Without it the reservation waits in Allocating or Confirming for an event that has come and gone.
/// </summary>
public sealed class LostAnswerTests
{
    [Fact]
    public async Task Holds_placed_whose_answer_and_event_were_lost_are_learnt_from_the_retried_plan_and_the_reservation_is_held()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Inventory.LoseNextPlacementAnswer = true;

        var id = await host.SubmitAsync(Confirmation.Manual);

        await host.ReachesAsync(id, "Held");
        dependencies.Inventory.LoseNextPlacementAnswer.ShouldBeFalse("the first placement's answer should have been lost");
        dependencies.Inventory.HoldsOf(id).ShouldHaveSingleItem().Status.ShouldBe(StandInHoldStatus.Active);
    }

    [Fact]
    public async Task A_commit_whose_answer_and_event_were_lost_is_learnt_from_the_retried_commit_and_the_reservation_is_confirmed()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Inventory.LoseNextCommitAnswer = true;

        var id = await host.SubmitAsync(Confirmation.Auto);

        await host.ReachesAsync(id, "Confirmed");
        dependencies.Inventory.LoseNextCommitAnswer.ShouldBeFalse("the first commit's answer should have been lost");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Committed);
    }
}
