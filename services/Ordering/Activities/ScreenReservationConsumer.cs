using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Asks compliance to screen a reservation. Transient failures are retried by the endpoint's
/// retry policy, then redelivered durably (the saga waits in Screening until its screening
/// deadline); an answer compliance cannot give is a denial, never an approval.
/// </summary>
public sealed class ScreenReservationConsumer(OrderingDbContext db, ComplianceScreening screening) : IConsumer<ScreenReservation>
{
    public async Task Consume(ConsumeContext<ScreenReservation> context)
    {
        var state = await db.Sagas.AsNoTracking()
            .Where(s => s.CorrelationId == context.Message.ReservationId)
            .Select(s => s.CurrentState)
            .SingleOrDefaultAsync(context.CancellationToken);
        // A redelivery that outlived its reservation (the screening deadline ended it) asks compliance nothing,
        // so compliance draws no licence units for a reservation that is over.
        if (state is not null && ReservationStates.Declared.Terminal.Contains(state))
        {
            return;
        }

        var screened = await screening.ScreenAsync(context.Message.ReservationId, context.CancellationToken);
        await context.Publish(screened with { Request = context.Message.Request });
    }
}
