using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using MassTransit.Testing;
using Microsoft.Extensions.Time.Testing;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>
/// A reservation that no cutoff bounds (compliance approved it without one) still ends: the fill deadline ends its
/// wait, and only its wait.
/// </summary>
public sealed class FillDeadlineTests : IAsyncLifetime
{
    private const string Sku = "NVIDIA-H20-96GB";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    private readonly Guid id = Guid.NewGuid();
    private ReservationSagaHarness reservations = null!;
    private ITestHarness harness = null!;
    private ISagaStateMachineTestHarness<ReservationStateMachine, ReservationState> saga = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        reservations = await ReservationSagaHarness.StartAsync(new FakeTimeProvider(DateTimeOffset.UtcNow), new OrderingOptions { FillDeadlineWithoutCutoff = Deadline },
            testTimeout: TimeSpan.FromMinutes(2));
        harness = reservations.Bus;
        saga = reservations.Saga;
    }

    public ValueTask DisposeAsync() => reservations.DisposeAsync();

    [Fact]
    public async Task A_reservation_no_cutoff_bounds_that_finds_no_stock_ends_Expired_at_the_fill_deadline_with_its_holds_released()
    {
        await SubmitAndApproveAsync(cutoff: null);
        await harness.Bus.Publish(new NoStockOffered(id, 1, ["no distributor offers it"]), Ct);
        (await saga.Exists(id, machine => machine.AwaitingStock)).ShouldNotBeNull();

        await reservations.PassAsync(Deadline);

        (await saga.Exists(id, machine => machine.Expired, TimeSpan.FromMinutes(2))).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.StatusReason!.ShouldContain("No cutoff applies");
        (await harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeTrue();
    }

    [Fact]
    public async Task A_reservation_with_a_cutoff_waits_for_stock_past_the_fill_deadline()
    {
        await SubmitAndApproveAsync(cutoff: DateTimeOffset.UtcNow.AddHours(1));
        await harness.Bus.Publish(new NoStockOffered(id, 1, ["no distributor offers it"]), Ct);
        (await saga.Exists(id, machine => machine.AwaitingStock)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.FillDeadlineTokenId.ShouldBeNull();

        await reservations.PassAsync(Deadline * 2);
        (await reservations.TimersDeliveredAsync<FillDeadlineReached>(Ct)).ShouldBe(0, "no fill deadline was ever set");

        saga.Sagas.Contains(id)!.CurrentState.ShouldBe("AwaitingStock");
    }

    [Fact]
    public async Task A_re_screen_that_brings_a_cutoff_cancels_the_fill_deadline()
    {
        await SubmitAndApproveAsync(cutoff: null);
        await harness.Bus.Publish(new NoStockOffered(id, 1, ["no distributor offers it"]), Ct);
        (await saga.Exists(id, machine => machine.AwaitingStock)).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.FillDeadlineTokenId.ShouldNotBeNull();

        await harness.Bus.Publish(Approval(DateTimeOffset.UtcNow.AddHours(1)), Ct);
        (await saga.Match(s => s.CorrelationId == id && s.FillDeadlineTokenId == null, TimeSpan.FromMinutes(2))).ShouldContain(id);
        await reservations.PassAsync(Deadline * 2);
        (await reservations.TimersDeliveredAsync<FillDeadlineReached>(Ct)).ShouldBe(1, "the deadline fell due, and the saga ignored it");

        saga.Sagas.Contains(id)!.CurrentState.ShouldBe("AwaitingStock");
    }

    [Fact]
    public async Task A_reservation_confirmed_before_its_fill_deadline_stays_Confirmed_and_releases_nothing()
    {
        await SubmitAndApproveAsync(cutoff: null);
        var hold = Guid.NewGuid();
        await harness.Bus.Publish(new HoldsPlaced(id, 1, [new PlacedHold(hold, Sku, "arrow", "HKG", 10, 10, 29_000m, "USD")],
            DateTimeOffset.UtcNow.AddMinutes(10)), Ct);
        (await saga.Exists(id, machine => machine.Confirming)).ShouldNotBeNull();
        await harness.Bus.Publish(new HoldsCommitted(id, [hold], 10, DateTimeOffset.UtcNow), Ct);
        (await saga.Exists(id, machine => machine.Confirmed)).ShouldNotBeNull();

        await reservations.PassAsync(Deadline * 2);
        (await reservations.TimersDeliveredAsync<FillDeadlineReached>(Ct)).ShouldBe(1, "the deadline fell due, and the saga ignored it");

        saga.Sagas.Contains(id)!.CurrentState.ShouldBe("Confirmed");
        saga.Sagas.Contains(id)!.FillDeadlineTokenId.ShouldBeNull();
        (await harness.Published.Any<ReleaseReservationHolds>(m => m.Context.Message.ReservationId == id, Ct)).ShouldBeFalse();
    }

    private ReservationScreened Approval(DateTimeOffset? cutoff) =>
        new(id, "d-1", ScreeningOutcome.Approved, cutoff, [new ScreenedLine(Sku, ScreeningOutcome.Approved, cutoff, [])], []);

    private async Task SubmitAndApproveAsync(DateTimeOffset? cutoff)
    {
        await harness.Bus.Publish(
            ReservationSagaHarness.Submission(id, Sku, 10, FillPolicy.AllowPartial, 0.5m, Confirmation.Auto, DateTimeOffset.UtcNow, destination: "DE"), Ct);
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        await harness.Bus.Publish(Approval(cutoff), Ct);
        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();
    }
}
