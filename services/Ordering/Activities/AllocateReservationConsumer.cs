using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using MassTransit;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Plans a reservation's holds when the saga could not at once (<see cref="ReservationAllocation"/>), retrying
/// inventory under its pipeline. Inventory reports what it held with <c>HoldsPlaced</c> from its outbox; the
/// other answers go to the saga from here.
/// </summary>
public sealed class AllocateReservationConsumer(OrderingDbContext db, ReservationAllocation allocation) : IConsumer<AllocateReservation>
{
    public async Task Consume(ConsumeContext<AllocateReservation> context)
    {
        var command = context.Message;
        var saga = await db.Sagas.AsNoTracking().Where(s => s.CorrelationId == command.ReservationId)
            .Select(s => new { s.BuyerId, s.CurrentState, s.PlanVersion }).SingleAsync(context.CancellationToken);
        // A redelivered plan that was overtaken (the reservation ended, or planned again) holds nothing.
        if (ReservationStates.Declared.Terminal.Contains(saga.CurrentState) || saga.PlanVersion != command.PlanVersion)
        {
            return;
        }

        var outcome = await allocation.PlanAsync(saga.BuyerId, command, CallMode.Retrying, context.CancellationToken);
        if (outcome is not HoldsPlaced)
        {
            await context.Publish(outcome, context.CancellationToken);
        }
    }
}
