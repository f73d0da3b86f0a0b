using Brokering.Compliance.Data;
using Brokering.Contracts.Ordering;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Compliance.Licences;

/// <summary>
/// Gives back the licence units a reservation drew at screening when it ends without being confirmed
/// (rejected, cancelled, expired, or past its cutoff): only a confirmed sale spends a licence. Deleting the
/// drawdowns is idempotent, so a redelivered or repeated status change changes nothing more. Ordering's
/// screening activity asks nothing for a reservation that has ended, so a late re-screen does not draw again.
/// </summary>
internal sealed class ReservationEndedConsumer(ComplianceDbContext db) : IConsumer<ReservationStatusChanged>
{
    private static readonly HashSet<string> EndedUnconfirmed = new(["Rejected", "Cancelled", "Expired", "CutoffMissed"], StringComparer.Ordinal);

    public async Task Consume(ConsumeContext<ReservationStatusChanged> context)
    {
        if (!EndedUnconfirmed.Contains(context.Message.To))
        {
            return;
        }

        // Ordering files screenings under the reservation id in its canonical form (Guid.ToString()).
        var reservationId = context.Message.ReservationId.ToString();
        await db.LicenceDrawdowns.Where(drawdown => drawdown.ReservationId == reservationId).ExecuteDeleteAsync(context.CancellationToken);
    }
}
