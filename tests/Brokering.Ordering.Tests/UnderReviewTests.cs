using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using Brokering.Testing;
using MassTransit.Testing;
using Microsoft.Extensions.Time.Testing;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>
/// A potential match waits UnderReview for a compliance officer: the officer's clearance goes on as an approval, a
/// confirmation rejects it, and unattended it fails closed at the screening deadline or the cutoff.
/// </summary>
public sealed class UnderReviewTests : IAsyncLifetime
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(30);

    // Starts at the real now: the transport's delay clock is moved on by the tests, from the real clock.
    private readonly FakeTimeProvider clock = new(DateTimeOffset.UtcNow);
    private readonly Guid id = Guid.NewGuid();
    private ReservationSagaHarness reservations = null!;
    private ITestHarness harness = null!;
    private ISagaStateMachineTestHarness<ReservationStateMachine, ReservationState> saga = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        reservations = await ReservationSagaHarness.StartAsync(clock, new OrderingOptions { ScreeningDeadline = Deadline }, testTimeout: TimeSpan.FromMinutes(2));
        harness = reservations.Bus;
        saga = reservations.Saga;
    }

    public ValueTask DisposeAsync() => reservations.DisposeAsync();

    [Fact]
    public async Task A_potential_match_waits_under_review_holding_nothing_and_telling_the_buyer_no_evidence()
    {
        await UnderReviewAsync(cutoff: null);

        var state = saga.Sagas.Contains(id)!;
        state.DecisionId.ShouldBe("d-review");
        state.StatusReason.ShouldBe("Awaiting a compliance officer's review of the export screening.");
        (await harness.Published.Any<AllocateReservation>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeFalse();
    }

    [Fact]
    public async Task An_officers_clearance_goes_on_as_an_approval_does_with_holds_no_later_than_the_cutoff()
    {
        var cutoff = clock.GetUtcNow().AddMinutes(5);
        await UnderReviewAsync(cutoff);

        await harness.Bus.Publish(Screened("d-cleared", ScreeningOutcome.Approved, cutoff), Ct);

        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
        var plan = harness.Published.Select<AllocateReservation>(Ct).Single(m => m.Context.Message.ReservationId == id).Context.Message;
        plan.HoldsExpireAt.ShouldBe(cutoff);
        var state = saga.Sagas.Contains(id)!;
        state.DecisionId.ShouldBe("d-cleared");
        state.Cutoff.ShouldBe(cutoff);
        state.History.Select(step => step.To).ShouldBe(["Screening", "UnderReview", "Allocating"]);
        // The screening deadline no longer applies once cleared; the cutoff does.
        state.ScreeningTimerTokenId.ShouldBeNull();
        state.CutoffTimerTokenId.ShouldNotBeNull();
    }

    [Fact]
    public async Task An_officers_confirmation_rejects_it_without_the_evidence()
    {
        await UnderReviewAsync(cutoff: null);

        await harness.Bus.Publish(Screened("d-confirmed", ScreeningOutcome.Denied, null, ["a compliance officer confirmed the potential match"]), Ct);

        (await saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.StatusReason.ShouldBe("Refused by export screening (decision d-confirmed).");
    }

    [Fact]
    public async Task Unattended_it_is_rejected_at_the_screening_deadline()
    {
        await UnderReviewAsync(cutoff: clock.GetUtcNow().AddDays(2));

        await reservations.PassAsync(Deadline);

        (await saga.Exists(id, machine => machine.Rejected, TimeSpan.FromMinutes(2))).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.StatusReason!.ShouldContain("No compliance officer reviewed the export screening within");
    }

    [Fact]
    public async Task A_potential_match_answered_at_once_is_still_bounded_by_the_deadline_counted_from_submission()
    {
        reservations.Steps.Screen = reservation => Screened("d-review", ScreeningOutcome.PotentialMatch, null);
        await SubmitAsync();
        (await saga.Exists(id, machine => machine.UnderReview)).ShouldNotBeNull();
        (await harness.Published.Any<ScreenReservation>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeFalse();

        await reservations.PassAsync(Deadline);

        (await saga.Exists(id, machine => machine.Rejected, TimeSpan.FromMinutes(2))).ShouldNotBeNull();
    }

    [Fact]
    public async Task Unattended_with_a_cutoff_before_the_deadline_it_ends_CutoffMissed()
    {
        var cutoff = clock.GetUtcNow().AddMinutes(5);
        await UnderReviewAsync(cutoff);

        await reservations.PassAsync(TimeSpan.FromMinutes(5));

        (await saga.Exists(id, machine => machine.CutoffMissed, TimeSpan.FromMinutes(2))).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_reservation_under_review_can_be_cancelled()
    {
        await UnderReviewAsync(cutoff: null);

        await harness.Bus.Publish(new ReservationCancellationRequested(id, "changed plans", "buyer-1", clock.GetUtcNow()), Ct);

        (await saga.Exists(id, machine => machine.Cancelled)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_rule_change_under_review_screens_again_and_a_cutoff_moved_into_the_past_ends_it()
    {
        await UnderReviewAsync(cutoff: clock.GetUtcNow().AddDays(1));
        var asked = harness.Published.Select<ScreenReservation>(Ct).Count(m => m.Context.Message.ReservationId == id);

        await harness.Bus.Publish(new RescreenReservation(id, "party listed"), Ct);
        await Eventually.Until(
            () => Task.FromResult(harness.Published.Select<ScreenReservation>(Ct).Count(m => m.Context.Message.ReservationId == id)),
            count => count > asked, TimeSpan.FromSeconds(30), "a re-screen to be asked", cancellationToken: Ct);
        saga.Sagas.Contains(id)!.CurrentState.ShouldBe("UnderReview");

        await harness.Bus.Publish(new RescreenReservation(id, "cutoff moved", clock.GetUtcNow().AddMinutes(-1)), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_potential_match_found_by_a_re_screen_after_approval_refuses_the_reservation_and_releases_its_holds()
    {
        await SubmitAsync();
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        await harness.Bus.Publish(Screened("d-1", ScreeningOutcome.Approved, null), Ct);
        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
        await harness.Bus.Publish(new HoldsPlaced(id, 1,
            [new PlacedHold(Guid.NewGuid(), Sku, "arrow", "HKG", 10, 10, 29_000m, "USD")], clock.GetUtcNow().AddMinutes(10)), Ct);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();

        await harness.Bus.Publish(Screened("d-2", ScreeningOutcome.PotentialMatch, null), Ct);

        (await saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        (await harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
    }

    private async Task UnderReviewAsync(DateTimeOffset? cutoff)
    {
        await SubmitAsync();
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        await harness.Bus.Publish(Screened("d-review", ScreeningOutcome.PotentialMatch, cutoff), Ct);
        (await saga.Exists(id, machine => machine.UnderReview)).ShouldNotBeNull();
    }

    private async Task SubmitAsync() =>
        await harness.Bus.Publish(ReservationSagaHarness.Submission(id, Sku, 10, FillPolicy.AllOrNone, 1m, Confirmation.Manual, clock.GetUtcNow()), Ct);

    private ReservationScreened Screened(string decisionId, ScreeningOutcome outcome, DateTimeOffset? cutoff, IReadOnlyList<string>? reasons = null) =>
        new(id, decisionId, outcome, cutoff,
            [new ScreenedLine(Sku, outcome == ScreeningOutcome.PotentialMatch ? ScreeningOutcome.Approved : outcome, cutoff, [])],
            reasons ?? ["a party to the reservation awaits a compliance officer's review under decision d-review"]);
}
