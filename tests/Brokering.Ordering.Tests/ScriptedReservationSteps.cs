using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using MassTransit;

namespace Brokering.Ordering.Tests;

/// <summary>
/// The saga's steps taken at once, answered by the test: each returns what its function gives, and by default nothing,
/// as when a service does not answer in time, so the saga sends the step's command.
/// </summary>
internal sealed class ScriptedReservationSteps : IReservationSteps
{
    public Func<Guid, ReservationScreened?> Screen { get; set; } = _ => null;

    public Func<AllocateReservation, object?> Plan { get; set; } = _ => null;

    public Func<CommitReservationHolds, DateTimeOffset?, object?> Commit { get; set; } = (_, _) => null;

    /// <summary>Whether inventory released at once; by default it did not, and the saga sends the command.</summary>
    public Func<ReleaseReservationHolds, bool> Release { get; set; } = _ => false;

    /// <summary>Inventory's answer to a renewal (the holds now lasting until the instant asked); by default none, as when it is down.</summary>
    public Func<Guid, DateTimeOffset, IReadOnlyList<Guid>?> Renew { get; set; } = (_, _) => null;

    /// <summary>Every renewal the saga asked for at once, answered or not, in order.</summary>
    public List<(Guid ReservationId, DateTimeOffset ExpiresAt)> RenewalsAsked { get; } = [];

    /// <summary>Every release the saga asked for at once, answered or not, in order.</summary>
    public List<ReleaseReservationHolds> ReleasesAsked { get; } = [];

    public Task<ReservationScreened?> ScreenAsync(ConsumeContext context, Guid reservationId, CancellationToken cancellationToken) =>
        Task.FromResult(Screen(reservationId));

    public Task<object?> PlanAsync(ConsumeContext context, string buyerId, AllocateReservation plan, CancellationToken cancellationToken) =>
        Task.FromResult(Plan(plan));

    public Task<object?> CommitAsync(
        ConsumeContext context, CommitReservationHolds command, DateTimeOffset? cutoff, string? decisionId, CancellationToken cancellationToken) =>
        Task.FromResult(Commit(command, cutoff));

    public Task<bool> ReleaseAsync(ConsumeContext context, ReleaseReservationHolds command, CancellationToken cancellationToken)
    {
        lock (ReleasesAsked)
        {
            ReleasesAsked.Add(command);
        }

        return Task.FromResult(Release(command));
    }

    public Task<IReadOnlyList<Guid>?> RenewAsync(ConsumeContext context, Guid reservationId, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        lock (RenewalsAsked)
        {
            RenewalsAsked.Add((reservationId, expiresAt));
        }

        return Task.FromResult(Renew(reservationId, expiresAt));
    }
}
