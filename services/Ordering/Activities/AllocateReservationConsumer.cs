using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using MassTransit;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Plans a reservation's holds when the saga could not at once (<see cref="ReservationAllocation"/>), retrying
/// inventory under its pipeline. Every answer goes to the saga from here, holds placed too: inventory's own
/// <c>HoldsPlaced</c> came only with the call that placed them, which may not be this one (see <see cref="SagaAnswers"/>);
/// a second <c>HoldsPlaced</c> of the plan finds it past Allocating and changes nothing.
/// </summary>
public sealed class AllocateReservationConsumer(OrderingDbContext db, ReservationAllocation allocation, IEndpointNameFormatter endpointNames)
    : IConsumer<AllocateReservation>
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
        if (outcome is HoldsPlaced placed)
        {
            await context.SendToSagaAsync(endpointNames, placed);
        }
        else
        {
            await context.Publish(outcome, context.CancellationToken);
        }
    }
}
