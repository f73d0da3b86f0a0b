using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using MassTransit;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Plans a reservation's holds when the saga could not at once (<see cref="ReservationAllocation"/>), retrying
/// inventory under its pipeline, and gives the saga inventory's answer: HoldsPlaced is sent to the saga's queue (the
/// saga does not hear inventory's own event of that name), the other answers are ordering's events and published.
/// </summary>
public sealed class AllocateReservationConsumer(OrderingDbContext db, ReservationAllocation allocation) : IConsumer<AllocateReservation>
{
    public async Task Consume(ConsumeContext<AllocateReservation> context)
    {
        var command = context.Message;
        var saga = await db.Sagas.AsNoTracking().Where(s => s.CorrelationId == command.ReservationId)
            .Select(s => new { s.BuyerId, s.CurrentState, s.PlanVersion }).SingleAsync(context.CancellationToken);
        // A plan that was overtaken (the reservation ended, or planned again) holds nothing. Once the reservation has
        // ended, an earlier try of this plan may still have placed holds after its release and then failed before
        // telling the saga: release again (it is idempotent), so they do not wait for their expiry.
        if (ReservationStateMachine.TerminalStates.Contains(saga.CurrentState))
        {
            await context.Publish(new ReleaseReservationHolds(command.ReservationId, $"plan {command.PlanVersion} came after the reservation ended"),
                context.CancellationToken);
            return;
        }

        if (saga.PlanVersion != command.PlanVersion)
        {
            return;
        }

        var outcome = await allocation.PlanAsync(saga.BuyerId, command, CallMode.Retrying, context.CancellationToken);
        if (outcome is HoldsPlaced placed)
        {
            await (await context.GetSendEndpoint(ReservationSagaQueue.Address)).Send(placed, context.CancellationToken);
        }
        else
        {
            await context.Publish(outcome, context.CancellationToken);
        }
    }
}
