using Brokering.Contracts.Ordering;
using MassTransit;

namespace Brokering.Ordering.Saga;

/// <summary>
/// The steps the saga takes at once, inside the transaction of the event that leads to them, instead of sending itself
/// a command and waiting for the answer as a message: screening, planning and holding, committing. Each answers with
/// the event the step's command would have brought back, which the saga then handles in the same transaction, so a
/// reservation whose services answer promptly goes from submitted to confirmed in one consume. Null means the step
/// could not be taken now (a service down, slow or unsure): the saga sends the step's command, whose consumer retries
/// as long as it must. Any answer given here is also one the command's consumer could have given.
/// </summary>
public interface IReservationSteps
{
    /// <summary>Compliance's answer for the reservation as submitted, or null.</summary>
    Task<ReservationScreened?> ScreenAsync(ConsumeContext context, Guid reservationId, CancellationToken cancellationToken);

    /// <summary>Plans and holds <paramref name="plan"/>: a HoldsPlaced, NoStockOffered or AllocationWindowClosed, or null.</summary>
    Task<object?> PlanAsync(ConsumeContext context, string buyerId, AllocateReservation plan, CancellationToken cancellationToken);

    /// <summary>
    /// Commits through the commit gate under the saga's <paramref name="cutoff"/> and <paramref name="decisionId"/>: a
    /// HoldsCommitted or ReservationCommitRefused, or null.
    /// </summary>
    Task<object?> CommitAsync(
        ConsumeContext context, CommitReservationHolds command, DateTimeOffset? cutoff, string? decisionId, CancellationToken cancellationToken);

    /// <summary>
    /// Releases the reservation's holds as <paramref name="command"/> says: true once inventory has released them, false
    /// when it did not answer (the saga then sends the command). The release is taken inside the saga's transaction,
    /// before its end is stored; a consume that then fails is redelivered to the same row and releases again, which
    /// inventory treats as done.
    /// </summary>
    Task<bool> ReleaseAsync(ConsumeContext context, ReleaseReservationHolds command, CancellationToken cancellationToken);

    /// <summary>
    /// Extends the reservation's active holds to <paramref name="expiresAt"/>: the holds that now last until then, or null
    /// when inventory did not answer (the saga then tries again while the holds' window is still open). A hold not among
    /// them has lapsed or gone, and inventory announces that by its own event.
    /// </summary>
    Task<IReadOnlyList<Guid>?> RenewAsync(ConsumeContext context, Guid reservationId, DateTimeOffset expiresAt, CancellationToken cancellationToken);
}
