using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using MassTransit.Testing;
using Microsoft.Extensions.Time.Testing;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>A reservation compliance never screens still ends: the screening deadline rejects it.</summary>
public sealed class ScreeningDeadlineTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    private readonly Guid id = Guid.NewGuid();
    private ReservationSagaHarness reservations = null!;
    private ITestHarness harness = null!;
    private ISagaStateMachineTestHarness<ReservationStateMachine, ReservationState> saga = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        reservations = await ReservationSagaHarness.StartAsync(new FakeTimeProvider(DateTimeOffset.UtcNow), new OrderingOptions { ScreeningDeadline = Deadline },
            testTimeout: TimeSpan.FromMinutes(2));
        harness = reservations.Bus;
        saga = reservations.Saga;
    }

    public ValueTask DisposeAsync() => reservations.DisposeAsync();

    [Fact]
    public async Task A_reservation_never_screened_ends_Rejected_at_the_screening_deadline_with_the_reason()
    {
        await SubmitAsync();
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();

        await reservations.PassAsync(Deadline);

        (await saga.Exists(id, machine => machine.Rejected, TimeSpan.FromMinutes(2))).ShouldNotBeNull();
        saga.Sagas.Contains(id)!.StatusReason!.ShouldContain("could not screen the reservation within");
        // Nothing is held as far as the saga knows, but an earlier try's holds may have landed: they are released.
        (await harness.Published.Any<ReleaseReservationHolds>(
            m => m.Context.Message.ReservationId == id && m.Context.Message.RevokeCommitsFrom == saga.Sagas.Contains(id)!.SubmittedAt, Ct)).ShouldBeTrue();
    }

    [Fact]
    public async Task A_screening_that_answers_in_time_cancels_the_deadline()
    {
        await SubmitAsync();
        (await saga.Exists(id, machine => machine.Screening)).ShouldNotBeNull();
        await harness.Bus.Publish(new ReservationScreened(id, "d-1", ScreeningOutcome.Approved, null,
            [new ScreenedLine("NVIDIA-H20-96GB", ScreeningOutcome.Approved, null, [])], []), Ct);
        (await saga.Exists(id, machine => machine.Allocating)).ShouldNotBeNull();

        await reservations.PassAsync(Deadline * 3);
        (await reservations.TimersDeliveredAsync<ScreeningDeadlineReached>(Ct)).ShouldBe(1, "the deadline fell due, and the saga ignored it");

        saga.Sagas.Contains(id)!.CurrentState.ShouldBe("Allocating");
    }

    private async Task SubmitAsync() =>
        await harness.Bus.Publish(
            ReservationSagaHarness.Submission(id, "NVIDIA-H20-96GB", 10, FillPolicy.AllOrNone, 1m, Confirmation.Manual, DateTimeOffset.UtcNow), Ct);
}
