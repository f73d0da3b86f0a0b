using Brokering.Compliance.Data;
using Brokering.Contracts.Ordering;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Compliance.Licences;

/// <summary>
/// Gives back the licence units a reservation drew at screening when it ends without being confirmed
/// (rejected, cancelled, expired, or past its cutoff): only a confirmed sale spends a licence. Ordering announces
/// exactly those ends (<see cref="ReservationEndedUnconfirmed"/>), so compliance no longer receives every status
/// change. Deleting the drawdowns is idempotent, so a redelivered or repeated announcement changes nothing more.
/// Ordering's screening activity asks nothing for a reservation that has ended, so a late re-screen does not draw again.
/// </summary>
internal sealed class ReservationEndedConsumer(ComplianceDbContext db) : IConsumer<ReservationEndedUnconfirmed>, IConsumer<ReservationStatusChanged>
{
    private static readonly HashSet<string> EndedUnconfirmed = new(["Rejected", "Cancelled", "Expired", "CutoffMissed"], StringComparer.Ordinal);

    public Task Consume(ConsumeContext<ReservationEndedUnconfirmed> context) =>
        GiveBackAsync(context.Message.ReservationId, context.Message.Outcome, context.Message.At, context.CancellationToken);

    /// <summary>
    /// How ordering announced ends before <see cref="ReservationEndedUnconfirmed"/> (it published every transition).
    /// Kept for the rollout, compliance first: an end announced by an ordering replica not yet upgraded is still
    /// honoured. Current ordering publishes none, so this costs nothing; remove it once no such replica runs.
    /// </summary>
    public Task Consume(ConsumeContext<ReservationStatusChanged> context) =>
        EndedUnconfirmed.Contains(context.Message.To)
            ? GiveBackAsync(context.Message.ReservationId, context.Message.To, context.Message.At, context.CancellationToken)
            : Task.CompletedTask;

    // Ordering files screenings under the reservation id in its canonical form (Guid.ToString()).
    private async Task GiveBackAsync(Guid reservation, string outcome, DateTimeOffset endedAt, CancellationToken cancellationToken)
    {
        var reservationId = reservation.ToString();
        // The reservation's decisions are locked first, as an officer's ruling locks the one it rules on: a ruling under
        // way finishes before the units are given back (its drawdowns are then deleted with the rest), and one that
        // comes after finds the reservation ended and is refused (ReviewDesk), so no ruling draws units nobody returns.
        await db.Database.ExecuteSqlAsync(
            $"SELECT 1 FROM screening_decisions WHERE reservation_id = {reservationId} ORDER BY id FOR UPDATE", cancellationToken);
        await db.LicenceDrawdowns.Where(drawdown => drawdown.ReservationId == reservationId).ExecuteDeleteAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync(
            $"INSERT INTO ended_reservations (reservation_id, outcome, ended_at) VALUES ({reservationId}, {outcome}, {endedAt}) ON CONFLICT DO NOTHING",
            cancellationToken);
    }
}
