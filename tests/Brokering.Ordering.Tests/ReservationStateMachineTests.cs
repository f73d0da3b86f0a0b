using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using Brokering.Testing;
using MassTransit.Testing;
using Microsoft.Extensions.Time.Testing;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>Every branch of the reservation saga, on MassTransit's in-memory harness with a fake clock.</summary>
public sealed class ReservationStateMachineTests : IAsyncLifetime
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    // Starts at the real now: the harness's delayed scheduler fires timers by the real clock, so a fixed start
    // would put every scheduled cutoff in the past once the wall clock passes it, and fire it at once.
    private readonly FakeTimeProvider clock = new(DateTimeOffset.UtcNow);
    private readonly Guid id = Guid.NewGuid();
    private ReservationSagaHarness reservations = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private ITestHarness harness = null!;
    private ISagaStateMachineTestHarness<ReservationStateMachine, ReservationState> saga = null!;

    public async ValueTask InitializeAsync()
    {
        reservations = await ReservationSagaHarness.StartAsync(clock, new OrderingOptions { HoldTimeToLive = TimeSpan.FromMinutes(10) });
        harness = reservations.Bus;
        saga = reservations.Saga;
    }

    public ValueTask DisposeAsync() => reservations.DisposeAsync();

    [Fact]
    public async Task A_submitted_reservation_is_sent_to_screening()
    {
        await SubmitAsync(FillPolicy.AllOrNone, Confirmation.Manual);

        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        (await harness.Published.Any<ScreenReservation>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
    }

    [Fact]
    public async Task An_approval_allocates_with_holds_that_expire_no_later_than_the_cutoff()
    {
        var cutoff = clock.GetUtcNow().AddMinutes(3);
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff);

        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
        var plan = harness.Published.Select<AllocateReservation>(Ct).Single(m => m.Context.Message.ReservationId == id).Context.Message;
        plan.PlanVersion.ShouldBe(1);
        plan.HoldsExpireAt.ShouldBe(cutoff);
        plan.Lines.Single().Quantity.ShouldBe(100);
    }

    [Fact]
    public async Task A_denial_rejects_the_reservation_naming_the_decision_but_not_its_evidence()
    {
        await SubmitAsync(FillPolicy.AllOrNone, Confirmation.Manual);
        // The answer to the saga's own request: it can only come once the reservation is being screened (published
        // before, on a busy machine it may be consumed first and find no reservation to answer).
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        await harness.Bus.Publish(new ReservationScreened(id, "d-1", ScreeningOutcome.Denied, null, [], ["end user is listed"]), Ct);

        (await saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.StatusReason!.ShouldBe("Refused by export screening (decision d-1).");
    }

    [Fact]
    public async Task Full_holds_with_manual_confirmation_wait_in_Held_then_confirm_and_commit()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff: null);
        await HoldsPlacedAsync(100);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();

        await harness.Bus.Publish(new ReservationConfirmationRequested(id, clock.GetUtcNow()), Ct);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();
        (await harness.Published.Any<CommitReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();

        await harness.Bus.Publish(new HoldsCommitted(id, [Guid.NewGuid()], 100, clock.GetUtcNow()), Ct);
        (await saga.Exists(id, machine => machine.Confirmed)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.History.Select(step => step.To)
            .ShouldBe(["Screening", "Allocating", "Held", "Confirming", "Confirmed"]);
    }

    [Fact]
    public async Task Full_holds_with_auto_confirmation_commit_at_once()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Auto, cutoff: null);
        await HoldsPlacedAsync(100);

        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();
    }

    [Fact]
    public async Task All_or_none_short_of_stock_releases_what_it_held_and_is_rejected()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff: null);
        // Inventory held all it was asked for: the offers themselves fell short of the line.
        await HoldsPlacedAsync(60, requested: 60);

        (await saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        (await harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
    }

    [Fact]
    public async Task Partial_fill_below_the_full_quantity_waits_for_stock()
    {
        await ScreenedAsync(FillPolicy.AllowPartial, Confirmation.Manual, cutoff: null);
        await HoldsPlacedAsync(60);

        (await saga.Exists(id, machine => machine.AwaitingStock)).ShouldNotBeNull();
    }

    [Fact]
    public async Task Cancelling_a_held_reservation_releases_its_holds()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff: null);
        await HoldsPlacedAsync(100);
        await harness.Bus.Publish(new ReservationCancellationRequested(id, "changed plans", "buyer-1", clock.GetUtcNow()), Ct);

        (await saga.Exists(id, machine => machine.Cancelled)).ShouldNotBeNull();
        (await harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
    }

    [Fact]
    public async Task The_cutoff_arriving_before_confirmation_releases_everything()
    {
        var cutoff = clock.GetUtcNow().AddMinutes(5);
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff);
        await HoldsPlacedAsync(100);
        await harness.Bus.Publish(new CutoffReached(id, cutoff), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
        (await harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
    }

    [Fact]
    public async Task Holds_that_lapse_unconfirmed_end_the_reservation_as_Expired()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff: null);
        await HoldsPlacedAsync(100);
        await harness.Bus.Publish(new HoldsExpired(id, [Guid.NewGuid()], clock.GetUtcNow()), Ct);

        (await saga.Exists(id, machine => machine.Expired)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_reservation_ending_unconfirmed_revokes_any_commit_of_it_whose_answer_the_saga_never_recorded()
    {
        // A confirmation's commit can land in inventory while the ordering process that made it dies before its own
        // transaction commits: the saga is still Held when its holds lapse, and nothing inventory committed may stand.
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff: null);
        await HoldsPlacedAsync(100);
        await harness.Bus.Publish(new HoldsExpired(id, [Guid.NewGuid()], clock.GetUtcNow()), Ct);

        (await saga.Exists(id, machine => machine.Expired)).ShouldNotBeNull();
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id && m.RevokeCommitsFrom == saga.Sagas.Contains(id)!.SubmittedAt);
    }

    [Fact]
    public async Task A_denial_at_screening_releases_and_revokes_whatever_an_earlier_try_of_the_reservation_placed_or_committed()
    {
        // A try that screened, held and committed at once can land in inventory while its replica dies before the saga's
        // row commits: the row still says Screening, and a later denial must not leave those holds standing.
        await SubmitAsync(FillPolicy.AllOrNone, Confirmation.Auto);
        // The answer to the saga's own request: it can only come once the reservation is being screened (published
        // before, on a busy machine it may be consumed first and find no reservation to answer).
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        await harness.Bus.Publish(new ReservationScreened(id, "d-1", ScreeningOutcome.Denied, null, [], ["end user is listed"]), Ct);

        (await saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id && m.RevokeCommitsFrom == saga.Sagas.Contains(id)!.SubmittedAt);
    }

    [Fact]
    public async Task An_all_or_none_plan_with_no_stock_offered_releases_and_revokes_whatever_an_earlier_try_of_the_plan_placed()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Auto, cutoff: null);
        await harness.Bus.Publish(new NoStockOffered(id, 1, ["no distributor offers it"]), Ct);

        (await saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id && m.RevokeCommitsFrom == saga.Sagas.Contains(id)!.SubmittedAt);
    }

    [Fact]
    public async Task A_plan_that_came_after_its_hold_window_closed_ends_the_reservation_Expired_and_releases_any_holds()
    {
        await ScreenedAsync(FillPolicy.AllowPartial, Confirmation.Manual, cutoff: null);
        var plan = harness.Published.Select<AllocateReservation>(Ct).Single(m => m.Context.Message.ReservationId == id).Context.Message;

        await harness.Bus.Publish(new AllocationWindowClosed(id, plan.PlanVersion, plan.HoldsExpireAt), Ct);

        (await saga.Exists(id, machine => machine.Expired)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.StatusReason!.ShouldContain("window closed");
        (await harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
    }

    [Fact]
    public async Task A_closed_window_reported_for_an_overtaken_plan_changes_nothing()
    {
        await ScreenedAsync(FillPolicy.AllowPartial, Confirmation.Manual, cutoff: null);

        await harness.Bus.Publish(new AllocationWindowClosed(id, PlanVersion: 0, clock.GetUtcNow()), Ct);
        (await harness.Consumed.Any<AllocationWindowClosed>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
        await HoldsPlacedAsync(100);

        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_commit_refused_after_the_cutoff_ends_as_CutoffMissed()
    {
        var cutoff = clock.GetUtcNow().AddMinutes(5);
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Auto, cutoff);
        await HoldsPlacedAsync(100);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();

        clock.Advance(TimeSpan.FromMinutes(6));
        await harness.Bus.Publish(new ReservationCommitRefused(id, "cutoff passed"), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
    }

    [Fact]
    public async Task Holds_placed_after_the_reservation_ended_are_released_again()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff: null);
        await harness.Bus.Publish(new ReservationCancellationRequested(id, "changed plans", "buyer-1", clock.GetUtcNow()), Ct);
        (await saga.Exists(id, machine => machine.Cancelled)).ShouldNotBeNull();

        await HoldsPlacedAsync(100);

        (await Eventually.Latest(() => Task.FromResult(harness.Published.Select<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct).Count()),
            releases => releases >= 2, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20), cancellationToken: Ct)).ShouldBe(2);
    }

    [Fact]
    public async Task A_stock_shortfall_on_a_held_reservation_drops_those_holds_and_plans_again()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff: null);
        var hold = Guid.NewGuid();
        await harness.Bus.Publish(new HoldsPlaced(id, 1, [new PlacedHold(hold, Sku, "arrow", "HKG", 100, 100, 29_000m, "USD")],
            clock.GetUtcNow().AddMinutes(10)), Ct);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();

        await harness.Bus.Publish(new StockShortfallDetected(id, Sku, "arrow", [hold], 100), Ct);

        (await harness.Published.Any<AllocateReservation>(m => m.Context.Message.ReservationId == id && m.Context.Message.PlanVersion == 2, Ct)).ShouldBeTrue();
        var replan = harness.Published.Select<AllocateReservation>(Ct).Single(m => m.Context.Message.PlanVersion == 2).Context.Message;
        replan.Lines.Single().Quantity.ShouldBe(100);
        saga.Sagas.Contains(id)!.Allocations.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_shortfall_while_committing_keeps_the_other_holds_allocates_what_fell_short_and_commits_without_a_new_confirmation()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Auto, cutoff: clock.GetUtcNow().AddHours(2));
        Guid takenBack = Guid.NewGuid(), kept = Guid.NewGuid(), replacement = Guid.NewGuid();
        await harness.Bus.Publish(new HoldsPlaced(id, 1,
            [new PlacedHold(takenBack, Sku, "arrow", "HKG", 60, 60, 29_000m, "USD"), new PlacedHold(kept, Sku, "avnet", "SIN", 40, 40, 29_000m, "USD")],
            clock.GetUtcNow().AddMinutes(10)), Ct);
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id);

        await harness.Bus.Publish(new StockShortfallDetected(id, Sku, "arrow", [takenBack], 60), Ct);
        await EventuallyConsumedAsync<StockShortfallDetected>(1);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull("the commit in flight answers first");
        await harness.Bus.Publish(new ReservationCommitRefused(id, "A hold is no longer active.", HoldsUnavailable: true), Ct);

        await EventuallyPublishedAsync<AllocateReservation>(m => m.ReservationId == id && m.PlanVersion == 2);
        var replan = harness.Published.Select<AllocateReservation>(Ct).Single(m => m.Context.Message.PlanVersion == 2).Context.Message;
        replan.Lines.Single().Quantity.ShouldBe(60, "only what fell short is planned again");
        saga.Sagas.Contains(id)!.Allocations.Select(a => a.HoldId).ShouldBe([kept]);

        await harness.Bus.Publish(new HoldsPlaced(id, 2, [new PlacedHold(replacement, Sku, "ingram", "HKG", 60, 60, 29_500m, "USD")],
            clock.GetUtcNow().AddMinutes(10)), Ct);
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id, count: 2);
        harness.Published.Select<CommitReservationHolds>(Ct).Last(m => m.Context.Message.ReservationId == id).Context.Message.HoldIds!
            .ShouldBe([kept, replacement], ignoreOrder: true);
        await harness.Bus.Publish(new HoldsCommitted(id, [kept, replacement], 100, clock.GetUtcNow()), Ct);
        (await saga.Exists(id, machine => machine.Confirmed)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.History.Select(step => step.To)
            .ShouldBe(["Screening", "Allocating", "Confirming", "Allocating", "Confirming", "Confirmed"]);
    }

    [Fact]
    public async Task A_commit_refused_for_a_taken_back_hold_before_the_shortfall_is_heard_waits_for_it_and_then_allocates_and_commits()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff: clock.GetUtcNow().AddHours(2));
        var takenBack = Guid.NewGuid();
        await harness.Bus.Publish(new HoldsPlaced(id, 1, [new PlacedHold(takenBack, Sku, "arrow", "HKG", 100, 100, 29_000m, "USD")],
            clock.GetUtcNow().AddMinutes(10)), Ct);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();
        await harness.Bus.Publish(new ReservationConfirmationRequested(id, clock.GetUtcNow()), Ct);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();

        await harness.Bus.Publish(new ReservationCommitRefused(id, "A hold is no longer active.", HoldsUnavailable: true), Ct);
        (await saga.Exists(id, machine => machine.AwaitingStock)).ShouldNotBeNull("it waits to hear which holds went, not Expired");
        saga.Sagas.Contains(id)!.ConfirmationPending.ShouldBeTrue();

        await harness.Bus.Publish(new StockShortfallDetected(id, Sku, "arrow", [takenBack], 100), Ct);
        await EventuallyPublishedAsync<AllocateReservation>(m => m.ReservationId == id && m.PlanVersion == 2);
        await harness.Bus.Publish(new HoldsPlaced(id, 2, [new PlacedHold(Guid.NewGuid(), Sku, "avnet", "SIN", 100, 100, 29_000m, "USD")],
            clock.GetUtcNow().AddMinutes(10)), Ct);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull("the buyer's confirmation stands");
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id, count: 2);
    }

    [Fact]
    public async Task Holds_that_lapsed_while_committing_end_the_reservation_Expired_even_when_inventory_calls_them_unavailable()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id);

        // Inventory's clock says the window is over although the saga's does not yet: a lapse, not a shortfall.
        await harness.Bus.Publish(new HoldsExpired(id, [Guid.NewGuid()], clock.GetUtcNow()), Ct);
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id, count: 2);
        await harness.Bus.Publish(new ReservationCommitRefused(id, "Nothing was committed: holds expired.", HoldsUnavailable: true), Ct);

        (await saga.Exists(id, machine => machine.Expired)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_commit_refused_for_unavailable_holds_after_the_cutoff_ends_CutoffMissed_not_re_allocating()
    {
        var cutoff = clock.GetUtcNow().AddMinutes(5);
        await ConfirmingAsync(cutoff);
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id);

        clock.Advance(TimeSpan.FromMinutes(6));
        await harness.Bus.Publish(new ReservationCommitRefused(id, "Nothing to commit: its holds are released.", HoldsUnavailable: true), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
        harness.Published.Select<AllocateReservation>(Ct).Count(m => m.Context.Message.ReservationId == id).ShouldBe(1);
    }

    [Fact]
    public async Task A_rescreen_that_finds_the_cutoff_already_past_ends_as_CutoffMissed_not_Rejected()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff: clock.GetUtcNow().AddMinutes(30));
        await HoldsPlacedAsync(100);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();

        var movedCutoff = clock.GetUtcNow().AddSeconds(-1);
        await harness.Bus.Publish(new ReservationScreened(id, "d-2", ScreeningOutcome.LicenceRequired, movedCutoff,
            [new ScreenedLine(Sku, ScreeningOutcome.LicenceRequired, movedCutoff, ["licence required"])], []), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
        (await harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
    }

    [Fact]
    public async Task A_confirmation_that_arrives_during_a_top_up_is_honoured_when_the_plan_lands()
    {
        await ScreenedAsync(FillPolicy.AllowPartial, Confirmation.Manual, cutoff: null);
        await HoldsPlacedAsync(60);
        (await saga.Exists(id, machine => machine.AwaitingStock)).ShouldNotBeNull();

        await harness.Bus.Publish(new TopUpReservation(id, Sku), Ct);
        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
        await harness.Bus.Publish(new ReservationConfirmationRequested(id, clock.GetUtcNow()), Ct);
        await harness.Consumed.Any<ReservationConfirmationRequested>(m => m.Context.Message.ReservationId == id, Ct);
        await harness.Bus.Publish(new HoldsPlaced(id, 2, [new PlacedHold(Guid.NewGuid(), Sku, "avnet", "SIN", 40, 40, 29_500m, "USD")],
            clock.GetUtcNow().AddMinutes(10)), Ct);

        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();
        (await harness.Published.Any<CommitReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
    }

    [Fact]
    public async Task A_cutoff_moved_into_the_past_while_committing_releases_the_holds_and_a_refused_commit_ends_CutoffMissed()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));

        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff"), Ct);
        await EventuallyPublishedAsync<ScreenReservation>(m => m.ReservationId == id, count: 2);
        var moved = clock.GetUtcNow().AddMinutes(-1);
        await harness.Bus.Publish(new ReservationScreened(id, "d-2", ScreeningOutcome.LicenceRequired, moved,
            [new ScreenedLine(Sku, ScreeningOutcome.LicenceRequired, moved, [])], ["licence required after the cutoff"]), Ct);

        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id && m.RevokeCommitsFrom == null);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();
        // Inventory ran the release before the commit: the commit finds nothing to commit.
        await harness.Bus.Publish(new ReservationCommitRefused(id, "Nothing to commit: its holds are released."), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.Cutoff.ShouldBe(moved);
    }

    [Fact]
    public async Task A_commit_landing_at_or_after_a_cutoff_moved_earlier_during_it_is_revoked_and_ends_CutoffMissed()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));
        var moved = clock.GetUtcNow().AddMinutes(1);
        await harness.Bus.Publish(new ReservationScreened(id, "d-2", ScreeningOutcome.Approved, moved,
            [new ScreenedLine(Sku, ScreeningOutcome.Approved, moved, [])], []), Ct);
        await WaitForCutoffAsync(moved);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();

        clock.Advance(TimeSpan.FromMinutes(2));
        await harness.Bus.Publish(new HoldsCommitted(id, [Guid.NewGuid()], 100, moved), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id && m.RevokeCommitsFrom == moved);
    }

    [Fact]
    public async Task A_rule_change_while_the_first_screening_is_in_flight_asks_compliance_again_and_the_later_denial_rejects()
    {
        await SubmitAsync(FillPolicy.AllOrNone, Confirmation.Manual);
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();

        await harness.Bus.Publish(new RescreenReservation(id, "restricted-party list v2 listed Acme"), Ct);
        await EventuallyPublishedAsync<ScreenReservation>(m => m.ReservationId == id, count: 2);
        // The first answer was taken under the old list; the second, under the new one, governs.
        await harness.Bus.Publish(new ReservationScreened(id, "d-1", ScreeningOutcome.Approved, null,
            [new ScreenedLine(Sku, ScreeningOutcome.Approved, null, [])], []), Ct);
        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
        await harness.Bus.Publish(new ReservationScreened(id, "d-2", ScreeningOutcome.Denied, null, [], ["end user Acme is listed"]), Ct);

        (await saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.DecisionId.ShouldBe("d-2");
    }

    [Fact]
    public async Task A_commit_refused_by_the_gate_ends_the_reservation_by_what_the_refusal_carries_whichever_message_comes_first()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));
        var moved = clock.GetUtcNow().AddMinutes(-1);

        // The gate's fresh screening found the cutoff moved into the past; its ReservationScreened is still on its way.
        await harness.Bus.Publish(new ReservationCommitRefused(id, "Screened again before committing: the cutoff has passed.", moved), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.Cutoff.ShouldBe(moved);
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id);
    }

    [Fact]
    public async Task A_commit_refused_because_compliance_no_longer_approves_ends_Rejected()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));

        await harness.Bus.Publish(new ReservationCommitRefused(id, "Screened again before committing: LicenceRequired.", null, RefusedByCompliance: true), Ct);

        (await saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id);
    }

    [Fact]
    public async Task A_party_listed_while_committing_rejects_the_reservation_and_releases_its_holds_revoking_any_commit()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));
        await harness.Bus.Publish(new RescreenReservation(id, "restricted-party list 2026-11-29 listed Acme"), Ct);
        await EventuallyPublishedAsync<ScreenReservation>(m => m.ReservationId == id, count: 2);

        await harness.Bus.Publish(new ReservationScreened(id, "d-2", ScreeningOutcome.Denied, null, [], ["end user Acme is listed"]), Ct);

        (await saga.Exists(id, machine => machine.Rejected)).ShouldNotBeNull();
        // Every commit of the reservation is revoked, whenever inventory made it.
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id && m.RevokeCommitsFrom == saga.Sagas.Contains(id)!.SubmittedAt);
        var rejected = saga.Sagas.Contains(id)!;
        rejected.CurrentState.ShouldBe("Rejected");
        rejected.DecisionId.ShouldBe("d-2");
        rejected.StatusReason!.ShouldContain("export screening (decision d-2)");
        rejected.StatusReason!.ShouldNotContain("Acme");
    }

    [Fact]
    public async Task A_cutoff_timer_matches_a_cutoff_finer_than_the_microseconds_the_saga_row_keeps()
    {
        var cutoff = new DateTimeOffset(clock.GetUtcNow().AddHours(2).UtcTicks / TimeSpan.TicksPerMicrosecond * TimeSpan.TicksPerMicrosecond, TimeSpan.Zero);
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff.AddTicks(7));
        await HoldsPlacedAsync(100);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();

        // As the row gives it back: whole microseconds.
        saga.Sagas.Contains(id)!.Cutoff = cutoff;
        await harness.Bus.Publish(new CutoffReached(id, cutoff.AddTicks(7)), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_commit_landing_strictly_before_a_cutoff_moved_earlier_stands()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));
        var moved = clock.GetUtcNow().AddMinutes(1);
        await harness.Bus.Publish(new ReservationScreened(id, "d-2", ScreeningOutcome.Approved, moved,
            [new ScreenedLine(Sku, ScreeningOutcome.Approved, moved, [])], []), Ct);
        await WaitForCutoffAsync(moved);

        await harness.Bus.Publish(new HoldsCommitted(id, [Guid.NewGuid()], 100, moved.AddTicks(-1)), Ct);

        (await saga.Exists(id, machine => machine.Confirmed)).ShouldNotBeNull();
        (await harness.Published.Any<ReleaseReservationHolds>(
            m => m.Context.Message.ReservationId == id && m.Context.Message.RevokeCommitsFrom != null, Ct)).ShouldBeFalse();
    }

    [Fact]
    public async Task At_the_cutoff_a_reservation_still_committing_asks_inventory_again_and_a_refusal_ends_it_CutoffMissed()
    {
        var cutoff = clock.GetUtcNow().AddSeconds(2);
        await ConfirmingAsync(cutoff);
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id);

        // The first commit never answers (say it went past its last redelivery during an inventory outage).
        await WaitForCutoffAsync(cutoff);
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id && m.CommitBefore == cutoff, count: 2);
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();

        clock.Advance(TimeSpan.FromSeconds(5));
        await harness.Bus.Publish(new ReservationCommitRefused(id, "The cutoff has passed; nothing was committed."), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
    }

    [Fact]
    public async Task Holds_lapsing_while_committing_make_the_saga_ask_inventory_again_and_a_refusal_ends_it_Expired()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id);

        await harness.Bus.Publish(new HoldsExpired(id, [Guid.NewGuid()], clock.GetUtcNow()), Ct);

        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id, count: 2);
        await harness.Bus.Publish(new ReservationCommitRefused(id, "Nothing was committed: holds expired."), Ct);
        (await saga.Exists(id, machine => machine.Expired)).ShouldNotBeNull();
    }

    [Fact]
    public async Task The_commit_names_every_hold_of_the_plan_so_inventory_commits_all_of_them_or_none()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Auto, cutoff: clock.GetUtcNow().AddHours(2));
        var holds = new[] { Guid.NewGuid(), Guid.NewGuid() };
        await harness.Bus.Publish(new HoldsPlaced(id, 1,
            [
                new PlacedHold(holds[0], Sku, "arrow", "HKG", 60, 60, 29_000m, "USD"),
                new PlacedHold(holds[1], Sku, "avnet", "SIN", 40, 40, 29_000m, "USD"),
            ],
            clock.GetUtcNow().AddMinutes(10)), Ct);

        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id);
        var commit = harness.Published.Select<CommitReservationHolds>(Ct).Single(m => m.Context.Message.ReservationId == id).Context.Message;
        commit.HoldIds.ShouldNotBeNull();
        commit.HoldIds.Order().ShouldBe(holds.Order());
    }

    [Fact]
    public async Task A_cutoff_moved_earlier_is_taken_by_a_held_reservation_at_once_and_ends_it_when_it_passes_with_no_answer_from_compliance()
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, clock.GetUtcNow().AddHours(2));
        await HoldsPlacedAsync(100);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();
        var moved = clock.GetUtcNow().AddMinutes(5);

        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff", moved), Ct);

        await WaitForCutoffAsync(moved);
        await EventuallyPublishedAsync<ScreenReservation>(m => m.ReservationId == id, count: 2);
        await EventuallyScheduledAsync<CutoffReached>(m => m.ReservationId == id && m.Cutoff == moved);
        // Compliance never answers the re-screen: the moved cutoff still ends the reservation, not the old one.
        await reservations.PassAsync(TimeSpan.FromMinutes(6));
        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id);
    }

    [Fact]
    public async Task A_cutoff_moved_into_the_past_ends_a_reservation_awaiting_stock_CutoffMissed_at_once_and_releases_its_holds()
    {
        await ScreenedAsync(FillPolicy.AllowPartial, Confirmation.Manual, clock.GetUtcNow().AddDays(20));
        await HoldsPlacedAsync(30);
        (await saga.Exists(id, machine => machine.AwaitingStock)).ShouldNotBeNull();
        var moved = clock.GetUtcNow().AddMinutes(-1);

        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff", moved), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.Cutoff.ShouldBe(moved);
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id);
        harness.Published.Select<ScreenReservation>(Ct).Count(m => m.Context.Message.ReservationId == id).ShouldBe(1, "an ended reservation is not screened again");
    }

    [Fact]
    public async Task A_cutoff_moved_later_does_not_widen_the_window_before_compliance_screens_again()
    {
        var cutoff = clock.GetUtcNow().AddHours(1);
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff);
        await HoldsPlacedAsync(100);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();

        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff", cutoff.AddDays(30)), Ct);

        await EventuallyPublishedAsync<ScreenReservation>(m => m.ReservationId == id, count: 2);
        saga.Sagas.Contains(id)!.Cutoff.ShouldBe(cutoff);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();
    }

    [Fact]
    public async Task An_approval_answering_an_earlier_screening_request_cannot_widen_a_cutoff_a_later_rule_change_brought_in()
    {
        var cutoff = clock.GetUtcNow().AddHours(1);
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Manual, cutoff);
        await HoldsPlacedAsync(100);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();

        // A party is listed (screen again), then a rule set brings the cutoff in (screen again, cutoff taken at once).
        await harness.Bus.Publish(new RescreenReservation(id, "party listed"), Ct);
        await EventuallyPublishedAsync<ScreenReservation>(m => m.ReservationId == id && m.Request == 2);
        var moved = clock.GetUtcNow().AddMinutes(10);
        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff", moved), Ct);
        await EventuallyPublishedAsync<ScreenReservation>(m => m.ReservationId == id && m.Request == 3);
        await WaitForCutoffAsync(moved);

        // The answer to the party listing comes last, decided under the old rule set: it must not take the cutoff out again.
        await harness.Bus.Publish(Approval("d-2", cutoff, request: 2), Ct);
        await EventuallyConsumedAsync<ReservationScreened>(count: 2);
        saga.Sagas.Contains(id)!.Cutoff.ShouldBe(moved);
        saga.Sagas.Contains(id)!.DecisionId.ShouldBe("d-1");

        // The answer to the latest request decides, even to widen: compliance screened under the rules now in force.
        var widened = clock.GetUtcNow().AddMinutes(20);
        await harness.Bus.Publish(Approval("d-3", widened, request: 3), Ct);
        await WaitForCutoffAsync(widened);
        saga.Sagas.Contains(id)!.DecisionId.ShouldBe("d-3");
    }

    [Fact]
    public async Task A_cutoff_moved_earlier_while_screening_bounds_the_approval_taken_under_the_old_rules_and_its_holds()
    {
        await SubmitAsync(FillPolicy.AllOrNone, Confirmation.Manual);
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        var moved = clock.GetUtcNow().AddMinutes(3);

        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff", moved), Ct);
        await WaitForCutoffAsync(moved);
        var old = clock.GetUtcNow().AddHours(2);
        await harness.Bus.Publish(new ReservationScreened(id, "d-1", ScreeningOutcome.Approved, old,
            [new ScreenedLine(Sku, ScreeningOutcome.Approved, old, [])], []), Ct);

        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.Cutoff.ShouldBe(moved);
        await EventuallyPublishedAsync<AllocateReservation>(m => m.ReservationId == id);
        harness.Published.Select<AllocateReservation>(Ct).Single(m => m.Context.Message.ReservationId == id).Context.Message.HoldsExpireAt.ShouldBe(moved);
    }

    [Fact]
    public async Task A_cutoff_moved_earlier_passing_while_compliance_has_not_answered_the_first_screening_ends_it_CutoffMissed()
    {
        await SubmitAsync(FillPolicy.AllOrNone, Confirmation.Manual);
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();

        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff", clock.GetUtcNow().AddMinutes(2)), Ct);
        await EventuallyScheduledAsync<CutoffReached>(m => m.ReservationId == id);
        await reservations.PassAsync(TimeSpan.FromMinutes(3));

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_cutoff_moved_into_the_past_while_screening_ends_the_reservation_CutoffMissed_at_once()
    {
        await SubmitAsync(FillPolicy.AllOrNone, Confirmation.Manual);
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();

        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff", clock.GetUtcNow().AddSeconds(-1)), Ct);

        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_cutoff_moved_earlier_while_committing_is_recorded_at_once_and_once_passed_releases_and_asks_inventory_again()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));
        var moved = clock.GetUtcNow().AddMinutes(5);

        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff", moved), Ct);

        await WaitForCutoffAsync(moved);
        await EventuallyScheduledAsync<CutoffReached>(m => m.ReservationId == id && m.Cutoff == moved);
        await reservations.PassAsync(TimeSpan.FromMinutes(6));
        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id);
        // The commit in flight is asked about again, under the moved cutoff.
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id && m.CommitBefore == moved);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_cutoff_moved_into_the_past_while_committing_releases_the_holds_at_once_without_waiting_for_compliance()
    {
        await ConfirmingAsync(cutoff: clock.GetUtcNow().AddHours(2));
        var moved = clock.GetUtcNow().AddMinutes(-1);

        await harness.Bus.Publish(new RescreenReservation(id, "rule set 2026-12 moved the cutoff", moved), Ct);

        await EventuallyPublishedAsync<ReleaseReservationHolds>(m => m.ReservationId == id && m.RevokeCommitsFrom == null);
        await EventuallyPublishedAsync<CommitReservationHolds>(m => m.ReservationId == id && m.CommitBefore == moved);
        saga.Sagas.Contains(id)!.Cutoff.ShouldBe(moved);
        await harness.Bus.Publish(new ReservationCommitRefused(id, "Nothing to commit: its holds are released."), Ct);
        (await saga.Exists(id, machine => machine.CutoffMissed)).ShouldNotBeNull();
    }

    // A timer is sent to the delayed scheduler, not published.
    private async Task EventuallyScheduledAsync<T>(Func<T, bool> match)
        where T : class =>
        (await Eventually.Latest(() => Task.FromResult(harness.Sent.Select<T>(Ct).Count(m => match(m.Context.Message))), seen => seen >= 1,
            TimeSpan.FromMinutes(2), cancellationToken: Ct)).ShouldBeGreaterThanOrEqualTo(1);

    private async Task ConfirmingAsync(DateTimeOffset cutoff)
    {
        await ScreenedAsync(FillPolicy.AllOrNone, Confirmation.Auto, cutoff);
        await HoldsPlacedAsync(100);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();
    }

    // At least count of them: the harness's lists answer once the bus has settled (BusSettlement).
    private async Task EventuallyPublishedAsync<T>(Func<T, bool> match, int count = 1)
        where T : class =>
        (await Eventually.Latest(() => Task.FromResult(harness.Published.Select<T>(Ct).Count(m => match(m.Context.Message))), seen => seen >= count,
            TimeSpan.FromMinutes(2), cancellationToken: Ct)).ShouldBeGreaterThanOrEqualTo(count);

    private async Task EventuallyConsumedAsync<T>(int count)
        where T : class =>
        (await Eventually.Latest(() => Task.FromResult(saga.Consumed.Select<T>(Ct).Count()), seen => seen >= count,
            TimeSpan.FromMinutes(2), cancellationToken: Ct)).ShouldBeGreaterThanOrEqualTo(count);

    private ReservationScreened Approval(string decision, DateTimeOffset cutoff, int request) =>
        new(id, decision, ScreeningOutcome.Approved, cutoff, [new ScreenedLine(Sku, ScreeningOutcome.Approved, cutoff, [])], [], Request: request);

    private async Task WaitForCutoffAsync(DateTimeOffset cutoff) =>
        (await Eventually.Latest(() => Task.FromResult(saga.Sagas.Contains(id)!.Cutoff), seen => seen == cutoff, TimeSpan.FromMinutes(1), cancellationToken: Ct))
            .ShouldBe(cutoff);

    private async Task SubmitAsync(FillPolicy fillPolicy, Confirmation confirmation) =>
        await harness.Bus.Publish(ReservationSagaHarness.Submission(id, Sku, 100, fillPolicy, 0.5m, confirmation, clock.GetUtcNow()), Ct);

    private async Task ScreenedAsync(FillPolicy fillPolicy, Confirmation confirmation, DateTimeOffset? cutoff)
    {
        await SubmitAsync(fillPolicy, confirmation);
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        await harness.Bus.Publish(new ReservationScreened(id, "d-1", ScreeningOutcome.Approved, cutoff,
            [new ScreenedLine(Sku, ScreeningOutcome.Approved, cutoff, [])], []), Ct);
        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
    }

    private async Task HoldsPlacedAsync(long held, long requested = 100) =>
        await harness.Bus.Publish(new HoldsPlaced(id, 1,
            [new PlacedHold(Guid.NewGuid(), Sku, "arrow", "HKG", requested, held, 29_000m, "USD")],
            clock.GetUtcNow().AddMinutes(10)), Ct);
}
