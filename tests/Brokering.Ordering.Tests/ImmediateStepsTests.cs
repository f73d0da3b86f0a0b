using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using Brokering.Testing;
using MassTransit.Testing;
using Microsoft.Extensions.Time.Testing;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>
/// The saga takes its steps at once when its services answer (<see cref="IReservationSteps"/>): a submission is carried
/// as far as the answers allow within its one consume, and a step that cannot be taken is sent as its command.
/// </summary>
public sealed class ImmediateStepsTests : IAsyncLifetime
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private readonly FakeTimeProvider clock = new(DateTimeOffset.UtcNow);
    private readonly Guid id = Guid.NewGuid();
    private ReservationSagaHarness reservations = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private ITestHarness Harness => reservations.Bus;
    private ISagaStateMachineTestHarness<ReservationStateMachine, ReservationState> Saga => reservations.Saga;
    private ScriptedReservationSteps Steps => reservations.Steps;

    public async ValueTask InitializeAsync() =>
        reservations = await ReservationSagaHarness.StartAsync(clock, new OrderingOptions { HoldTimeToLive = TimeSpan.FromMinutes(10) });

    public ValueTask DisposeAsync() => reservations.DisposeAsync();

    [Fact]
    public async Task A_reservation_whose_services_answer_at_once_is_confirmed_in_one_consume_with_no_command_and_no_timer()
    {
        var cutoff = clock.GetUtcNow().AddHours(1);
        var hold = Guid.NewGuid();
        AnswerScreening(ScreeningOutcome.Approved, cutoff);
        Steps.Plan = plan => Placed(plan, hold, held: 100);
        Steps.Commit = (command, _) => new HoldsCommitted(command.ReservationId, [.. command.HoldIds!], 100, clock.GetUtcNow());

        await SubmitAsync(Confirmation.Auto);

        (await Saga.Exists(id, machine => machine.Confirmed)).ShouldNotBeNull();
        var state = Saga.Sagas.Contains(id)!;
        state.History.Select(step => step.To).ShouldBe(["Screening", "Allocating", "Confirming", "Confirmed"]);
        state.Allocations.Single().HoldId.ShouldBe(hold);
        state.CutoffTimerTokenId.ShouldBeNull();
        state.ScreeningTimerTokenId.ShouldBeNull();
        state.FillDeadlineTokenId.ShouldBeNull();
        Harness.Published.Select<ScreenReservation>(Ct).ShouldBeEmpty();
        Harness.Published.Select<AllocateReservation>(Ct).ShouldBeEmpty();
        Harness.Published.Select<CommitReservationHolds>(Ct).ShouldBeEmpty();
        Harness.Consumed.Select<ReservationSubmitted>(Ct).Count().ShouldBe(1);
    }

    [Fact]
    public async Task Screening_that_cannot_be_taken_at_once_is_sent_as_its_command_under_the_screening_deadline()
    {
        await SubmitAsync(Confirmation.Auto);

        (await Saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        (await Harness.Published.Any<ScreenReservation>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
        // The saga sets the timer just after it publishes the command, within the same consume: wait for that step too.
        (await Eventually.Latest(() => Task.FromResult(Saga.Sagas.Contains(id)!.ScreeningTimerTokenId), token => token is not null,
            TimeSpan.FromMinutes(1), cancellationToken: Ct)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_plan_that_cannot_be_made_at_once_is_sent_as_its_command_and_the_cutoff_timer_is_set()
    {
        var cutoff = clock.GetUtcNow().AddHours(1);
        AnswerScreening(ScreeningOutcome.Approved, cutoff);

        await SubmitAsync(Confirmation.Auto);

        (await Saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
        var plan = Harness.Published.Select<AllocateReservation>(Ct).Single(m => m.Context.Message.ReservationId == id).Context.Message;
        plan.PlanVersion.ShouldBe(1);
        plan.HoldsExpireAt.ShouldBe(clock.GetUtcNow().AddMinutes(10));
        (await Eventually.Latest(() => Task.FromResult(Saga.Sagas.Contains(id)!.CutoffTimerTokenId), token => token is not null,
            TimeSpan.FromMinutes(1), cancellationToken: Ct)).ShouldNotBeNull();
        Saga.Sagas.Contains(id)!.ScreeningTimerTokenId.ShouldBeNull();
    }

    [Fact]
    public async Task A_commit_that_cannot_be_made_at_once_is_sent_as_its_command_naming_the_holds()
    {
        var hold = Guid.NewGuid();
        AnswerScreening(ScreeningOutcome.Approved, clock.GetUtcNow().AddHours(1));
        Steps.Plan = plan => Placed(plan, hold, held: 100);

        await SubmitAsync(Confirmation.Auto);

        (await Saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();
        var commit = Harness.Published.Select<CommitReservationHolds>(Ct).Single(m => m.Context.Message.ReservationId == id).Context.Message;
        commit.HoldIds!.ShouldBe([hold]);
        (await Eventually.Latest(() => Task.FromResult(Saga.Sagas.Contains(id)!.CutoffTimerTokenId), token => token is not null,
            TimeSpan.FromMinutes(1), cancellationToken: Ct)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_commit_refused_at_once_because_the_cutoff_in_force_passed_ends_CutoffMissed_and_releases_the_holds()
    {
        var inForce = clock.GetUtcNow().AddSeconds(-1);
        AnswerScreening(ScreeningOutcome.Approved, clock.GetUtcNow().AddHours(1));
        Steps.Plan = plan => Placed(plan, Guid.NewGuid(), held: 100);
        Steps.Commit = (command, _) => new ReservationCommitRefused(command.ReservationId, "The cutoff has passed.", inForce, RefusedByCompliance: false);

        await SubmitAsync(Confirmation.Auto);

        (await Saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
        Saga.Sagas.Contains(id)!.Cutoff.ShouldBe(inForce);
        (await Harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
        Saga.Sagas.Contains(id)!.CutoffTimerTokenId.ShouldBeNull();
    }

    [Fact]
    public async Task A_denial_at_once_rejects_without_planning()
    {
        AnswerScreening(ScreeningOutcome.Denied, cutoff: null);
        var planned = 0;
        Steps.Plan = _ => { planned++; return null; };

        await SubmitAsync(Confirmation.Auto);

        (await Saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        planned.ShouldBe(0);
        Harness.Published.Select<AllocateReservation>(Ct).ShouldBeEmpty();
        Saga.Sagas.Contains(id)!.ScreeningTimerTokenId.ShouldBeNull();
    }

    [Fact]
    public async Task A_partial_hold_for_an_all_or_none_reservation_made_at_once_is_rejected_and_released()
    {
        AnswerScreening(ScreeningOutcome.Approved, clock.GetUtcNow().AddHours(1));
        // Inventory held all it was asked for: the offers themselves fell short of the line.
        Steps.Plan = plan => Placed(plan, Guid.NewGuid(), held: 40, requested: 40);
        var committed = 0;
        Steps.Commit = (_, _) => { committed++; return null; };

        await SubmitAsync(Confirmation.Auto, FillPolicy.AllOrNone);

        (await Saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        committed.ShouldBe(0);
        (await Harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
        Saga.Sagas.Contains(id)!.CutoffTimerTokenId.ShouldBeNull();
    }

    [Fact]
    public async Task A_manual_reservation_held_at_once_waits_in_Held_under_its_cutoff_timer_then_commits_at_once_on_confirmation()
    {
        AnswerScreening(ScreeningOutcome.Approved, clock.GetUtcNow().AddHours(1));
        Steps.Plan = plan => Placed(plan, Guid.NewGuid(), held: 100);
        Steps.Commit = (command, _) => new HoldsCommitted(command.ReservationId, [.. command.HoldIds!], 100, clock.GetUtcNow());

        await SubmitAsync(Confirmation.Manual);
        (await Saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();
        // The saga sets the timer after the steps it takes at once, within the same consume: wait for that step too.
        (await Eventually.Latest(() => Task.FromResult(Saga.Sagas.Contains(id)!.CutoffTimerTokenId), token => token is not null,
            TimeSpan.FromMinutes(1), cancellationToken: Ct)).ShouldNotBeNull();

        await Harness.Bus.Publish(new ReservationConfirmationRequested(id, clock.GetUtcNow()), Ct);

        (await Saga.Exists(id, machine => machine.Confirmed)).ShouldNotBeNull();
        Harness.Published.Select<CommitReservationHolds>(Ct).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_release_inventory_answers_at_once_sends_no_release_command()
    {
        AnswerScreening(ScreeningOutcome.Approved, clock.GetUtcNow().AddHours(1));
        Steps.Plan = plan => Placed(plan, Guid.NewGuid(), held: 40, requested: 40);
        Steps.Release = _ => true;

        await SubmitAsync(Confirmation.Auto, FillPolicy.AllOrNone);

        (await Saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        var release = Steps.ReleasesAsked.ShouldHaveSingleItem();
        release.ReservationId.ShouldBe(id);
        release.Reason.ShouldBe("all-or-none not satisfied");
        Harness.Published.Select<ReleaseReservationHolds>(Ct).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_cancellation_releases_at_once_and_sends_the_release_command_only_when_inventory_does_not_answer()
    {
        var other = Guid.NewGuid();
        AnswerScreening(ScreeningOutcome.Approved, clock.GetUtcNow().AddHours(1));
        Steps.Plan = plan => Placed(plan, Guid.NewGuid(), held: 100);
        // Inventory answers the first reservation's release, not the second's.
        Steps.Release = release => release.ReservationId == id;

        await SubmitAsync(Confirmation.Manual);
        await Harness.Bus.Publish(ReservationSagaHarness.Submission(other, Sku, 100, FillPolicy.AllowPartial, 0.5m, Confirmation.Manual, clock.GetUtcNow()), Ct);
        (await Saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();
        (await Saga.Exists(other, machine => machine.Held)).ShouldNotBeNull();

        await Harness.Bus.Publish(new ReservationCancellationRequested(id, "changed plans", "buyer-1", clock.GetUtcNow()), Ct);
        await Harness.Bus.Publish(new ReservationCancellationRequested(other, "changed plans", "buyer-1", clock.GetUtcNow()), Ct);

        (await Saga.Exists(id, machine => machine.Cancelled)).ShouldNotBeNull();
        (await Saga.Exists(other, machine => machine.Cancelled)).ShouldNotBeNull();
        (await Harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == other, Ct)).ShouldBeTrue();
        Harness.Published.Select<ReleaseReservationHolds>(Ct).Where(m => m.Context.Message.ReservationId == id).ShouldBeEmpty();
        Steps.ReleasesAsked.Select(release => release.ReservationId).ShouldBe([id, other], ignoreOrder: true);
    }

    [Fact]
    public async Task An_all_or_none_reservation_outrun_to_one_distributors_stock_is_planned_again_for_the_rest_and_confirmed()
    {
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        AnswerScreening(ScreeningOutcome.Approved, clock.GetUtcNow().AddHours(1));
        var plans = new List<AllocateReservation>();
        Steps.Plan = plan =>
        {
            plans.Add(plan);
            // The first plan asked arrow for all 100 but others took 60 of them meanwhile; the second plan asks avnet.
            return plans.Count == 1
                ? Placed(plan, first, held: 40)
                : new HoldsPlaced(plan.ReservationId, plan.PlanVersion, [new PlacedHold(second, Sku, "avnet", "SGP", 60, 60, 29_100m, "USD")], plan.HoldsExpireAt);
        };
        Steps.Commit = (command, _) => new HoldsCommitted(command.ReservationId, [.. command.HoldIds!], 100, clock.GetUtcNow());

        await SubmitAsync(Confirmation.Auto, FillPolicy.AllOrNone);

        (await Saga.Exists(id, machine => machine.Confirmed)).ShouldNotBeNull();
        plans.Select(plan => plan.Lines.Single().Quantity).ShouldBe([100L, 60L], "the second plan asks only for what the first did not hold");
        Saga.Sagas.Contains(id)!.Allocations.Select(allocation => allocation.HoldId).ShouldBe([first, second]);
        Steps.ReleasesAsked.ShouldBeEmpty();
    }

    [Fact]
    public async Task An_all_or_none_reservation_short_of_stock_that_was_never_offered_is_refused_without_planning_again()
    {
        AnswerScreening(ScreeningOutcome.Approved, clock.GetUtcNow().AddHours(1));
        var plans = 0;
        Steps.Plan = plan =>
        {
            plans++;
            // Inventory held all it was asked for: the offers themselves fell short.
            return new HoldsPlaced(plan.ReservationId, plan.PlanVersion, [new PlacedHold(Guid.NewGuid(), Sku, "arrow", "HKG", 40, 40, 29_000m, "USD")], plan.HoldsExpireAt);
        };
        Steps.Release = _ => true;

        await SubmitAsync(Confirmation.Auto, FillPolicy.AllOrNone);

        (await Saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        plans.ShouldBe(1);
    }

    [Fact]
    public async Task An_all_or_none_reservation_outrun_again_and_again_is_refused_after_its_last_plan()
    {
        AnswerScreening(ScreeningOutcome.Approved, clock.GetUtcNow().AddHours(1));
        var plans = 0;
        Steps.Plan = plan =>
        {
            plans++;
            return new HoldsPlaced(plan.ReservationId, plan.PlanVersion, [new PlacedHold(Guid.NewGuid(), Sku, "arrow", "HKG", 50, 0, 29_000m, "USD")], plan.HoldsExpireAt);
        };
        Steps.Release = _ => true;

        await SubmitAsync(Confirmation.Auto, FillPolicy.AllOrNone);

        (await Saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        plans.ShouldBe(ReservationStateMachine.AllOrNonePlansAtMost);
        Steps.ReleasesAsked.ShouldHaveSingleItem().Reason.ShouldBe("all-or-none not satisfied");
    }

    private void AnswerScreening(ScreeningOutcome outcome, DateTimeOffset? cutoff) =>
        Steps.Screen = reservation => new ReservationScreened(reservation, "d-1", outcome, cutoff,
            [new ScreenedLine(Sku, outcome, cutoff, [])], outcome == ScreeningOutcome.Approved ? [] : ["end user is listed"]);

    private static HoldsPlaced Placed(AllocateReservation plan, Guid hold, long held, long requested = 100) =>
        new(plan.ReservationId, plan.PlanVersion, [new PlacedHold(hold, Sku, "arrow", "HKG", requested, held, 29_000m, "USD")], plan.HoldsExpireAt);

    private async Task SubmitAsync(Confirmation confirmation, FillPolicy fillPolicy = FillPolicy.AllowPartial) =>
        await Harness.Bus.Publish(ReservationSagaHarness.Submission(id, Sku, 100, fillPolicy, 0.5m, confirmation, clock.GetUtcNow()), Ct);
}
