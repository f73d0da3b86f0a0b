using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using Brokering.Testing;
using MassTransit.Testing;
using Microsoft.Extensions.Time.Testing;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>
/// A partial fill waits for stock until its cutoff, not one window of holds: the saga renews what it holds half way
/// through each window, never past the cutoff, and only while it waits for stock.
/// </summary>
public sealed class HoldRenewalTests : IAsyncLifetime
{
    private const string Sku = "NVIDIA-H20-96GB";
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(3);

    private readonly Guid id = Guid.NewGuid();
    private readonly Guid hold = Guid.NewGuid();
    private readonly FakeTimeProvider clock = new(DateTimeOffset.UtcNow);
    private ReservationSagaHarness reservations = null!;
    private ITestHarness harness = null!;
    private ISagaStateMachineTestHarness<ReservationStateMachine, ReservationState> saga = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ReservationState Row => saga.Sagas.Contains(id)!;

    public async ValueTask InitializeAsync()
    {
        reservations = await ReservationSagaHarness.StartAsync(clock,
            new OrderingOptions { HoldTimeToLive = Window, HoldRenewalRetryInterval = Retry, FillDeadlineWithoutCutoff = TimeSpan.FromMinutes(3) },
            testTimeout: TimeSpan.FromMinutes(2));
        harness = reservations.Bus;
        saga = reservations.Saga;
        reservations.Steps.Renew = (_, _) => [hold];
    }

    public ValueTask DisposeAsync() => reservations.DisposeAsync();

    [Fact]
    public async Task A_partial_fill_with_a_distant_cutoff_renews_its_holds_half_way_through_each_window_and_keeps_waiting()
    {
        var approvedAt = clock.GetUtcNow();
        await WaitForStockAsync(cutoff: approvedAt.AddHours(1), Confirmation.Manual);
        Row.HoldsExpireAt.ShouldBe(approvedAt + Window);

        for (var renewal = 1; renewal <= 3; renewal++)
        {
            await reservations.PassAsync(Window / 2);
            await RenewalsAskedAsync(renewal);
            var asked = reservations.Steps.RenewalsAsked[renewal - 1];
            asked.ReservationId.ShouldBe(id);
            asked.ExpiresAt.ShouldBe(clock.GetUtcNow() + Window, TimeSpan.FromMilliseconds(1), "each renewal runs a full window from when it is made");
            (await saga.Match(s => s.CorrelationId == id && s.HoldsExpireAt == asked.ExpiresAt, TimeSpan.FromSeconds(30))).ShouldContain(id);
        }

        // Three windows after approval, where one window used to end the wait: still waiting, holding what it held.
        Row.CurrentState.ShouldBe("AwaitingStock");
        Row.Allocations.Single().HoldId.ShouldBe(hold);
        (await harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeFalse();
    }

    [Fact]
    public async Task Holds_are_renewed_up_to_the_cutoff_and_not_past_it_and_the_cutoff_then_ends_the_wait()
    {
        var cutoff = clock.GetUtcNow() + Window * 1.25;
        await WaitForStockAsync(cutoff, Confirmation.Manual);

        await reservations.PassAsync(Window / 2);
        await RenewalsAskedAsync(1);
        reservations.Steps.RenewalsAsked.Single().ExpiresAt.ShouldBe(ReservationStepBinders.ToMicrosecond(cutoff));
        (await saga.Match(s => s.CorrelationId == id && s.HoldsExpireAt == ReservationStepBinders.ToMicrosecond(cutoff), TimeSpan.FromSeconds(30)))
            .ShouldContain(id);

        await reservations.PassAsync(Window);
        (await saga.Exists(id, machine => machine.CutoffMissed, TimeSpan.FromMinutes(1))).ShouldNotBeNull();
        await reservations.TimersDeliveredAsync<HoldRenewalDue>(Ct);
        reservations.Steps.RenewalsAsked.Count.ShouldBe(1, "the holds already ran to the cutoff: nothing was left to renew");
    }

    [Fact]
    public async Task A_renewal_inventory_does_not_answer_is_tried_again_while_the_window_is_open()
    {
        var approvedAt = clock.GetUtcNow();
        await WaitForStockAsync(cutoff: approvedAt.AddHours(1), Confirmation.Manual);
        reservations.Steps.Renew = (_, _) => null;

        await reservations.PassAsync(Window / 2);
        await RenewalsAskedAsync(1);
        Row.HoldsExpireAt.ShouldBe(approvedAt + Window, "an unanswered renewal leaves the window as it was");

        reservations.Steps.Renew = (_, _) => [hold];
        await reservations.PassAsync(Retry);
        await RenewalsAskedAsync(2);
        var renewed = reservations.Steps.RenewalsAsked[1].ExpiresAt;
        renewed.ShouldBe(clock.GetUtcNow() + Window, TimeSpan.FromMilliseconds(1));
        (await saga.Match(s => s.CorrelationId == id && s.HoldsExpireAt == renewed, TimeSpan.FromSeconds(30))).ShouldContain(id);
    }

    [Fact]
    public async Task A_reservation_no_cutoff_bounds_renews_its_holds_until_its_fill_deadline_ends_it()
    {
        await WaitForStockAsync(cutoff: null, Confirmation.Manual);

        await reservations.PassAsync(Window / 2);
        await RenewalsAskedAsync(1);
        await reservations.PassAsync(TimeSpan.FromMinutes(3));

        (await saga.Exists(id, machine => machine.Expired, TimeSpan.FromMinutes(1))).ShouldNotBeNull();
        Row.StatusReason!.ShouldContain("No cutoff applies");
        Row.HoldRenewalTokenId.ShouldBeNull("an ended reservation has nothing to renew");
    }

    [Fact]
    public async Task A_fully_held_reservation_waiting_for_the_buyer_is_not_renewed_and_lapses_at_the_end_of_its_window()
    {
        var approvedAt = clock.GetUtcNow();
        await ApproveAsync(approvedAt.AddHours(1), Confirmation.Manual);
        await harness.Bus.Publish(new HoldsPlaced(id, 1, [new PlacedHold(hold, Sku, "arrow", "HKG", 10, 10, 29_000m, "USD")], approvedAt + Window), Ct);
        (await saga.Exists(id, machine => machine.Held)).ShouldNotBeNull();
        Row.HoldRenewalTokenId.ShouldBeNull();

        await reservations.PassAsync(Window);
        await harness.Bus.Publish(new HoldsExpired(id, [hold], approvedAt + Window), Ct);

        (await saga.Exists(id, machine => machine.Expired)).ShouldNotBeNull();
        reservations.Steps.RenewalsAsked.ShouldBeEmpty();
        (await harness.Sent.Any<HoldRenewalDue>(Ct) || await harness.Published.Any<HoldRenewalDue>(Ct)).ShouldBeFalse();
    }

    [Fact]
    public async Task A_renewal_timer_for_a_window_since_replaced_renews_nothing()
    {
        var approvedAt = clock.GetUtcNow();
        await WaitForStockAsync(cutoff: approvedAt.AddHours(1), Confirmation.Manual);

        // A timer left over from an earlier window (a re-plan placed holds with another expiry since).
        await harness.Bus.Publish(new HoldRenewalDue(id, approvedAt + Window / 4), Ct);
        (await harness.Consumed.Any<HoldRenewalDue>(m => m.Context.Message.HoldsExpireAt == approvedAt + Window / 4, Ct)).ShouldBeTrue();

        reservations.Steps.RenewalsAsked.ShouldBeEmpty();
        Row.HoldsExpireAt.ShouldBe(approvedAt + Window);
    }

    private async Task WaitForStockAsync(DateTimeOffset? cutoff, Confirmation confirmation)
    {
        await ApproveAsync(cutoff, confirmation);
        await harness.Bus.Publish(new HoldsPlaced(id, 1, [new PlacedHold(hold, Sku, "arrow", "HKG", 10, 4, 29_000m, "USD")], Row.HoldsExpireAt!.Value), Ct);
        (await saga.Exists(id, machine => machine.AwaitingStock)).ShouldNotBeNull();
        (await saga.Match(s => s.CorrelationId == id && s.HoldRenewalTokenId != null, TimeSpan.FromSeconds(30))).ShouldContain(id);
    }

    private async Task ApproveAsync(DateTimeOffset? cutoff, Confirmation confirmation)
    {
        await harness.Bus.Publish(
            ReservationSagaHarness.Submission(id, Sku, 10, FillPolicy.AllowPartial, 0.3m, confirmation, clock.GetUtcNow(), destination: "DE"), Ct);
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        await harness.Bus.Publish(
            new ReservationScreened(id, "d-1", ScreeningOutcome.Approved, cutoff, [new ScreenedLine(Sku, ScreeningOutcome.Approved, cutoff, [])], []), Ct);
        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
    }

    private Task<int> RenewalsAskedAsync(int count) =>
        Eventually.Until(() => Task.FromResult(reservations.Steps.RenewalsAsked.Count), asked => asked >= count,
            TimeSpan.FromSeconds(30), $"{count} renewal(s) to be asked", cancellationToken: Ct);
}
