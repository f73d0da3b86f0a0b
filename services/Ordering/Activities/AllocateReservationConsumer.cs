using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Ordering;
using Google.Protobuf.WellKnownTypes;
using MassTransit;
using Microsoft.Extensions.Options;
using Polly.Registry;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Reads inventory's offers for each outstanding line, plans the split, and asks inventory to
/// hold it. Inventory reports what it held with <c>HoldsPlaced</c>; the call is idempotent per
/// plan version, so a redelivered command holds nothing twice.
/// </summary>
public sealed class AllocateReservationConsumer(
    OrderingDbContext db,
    HoldsLedger.HoldsLedgerClient inventory,
    ResiliencePipelineProvider<string> pipelines,
    IOptions<OrderingOptions> options) : IConsumer<AllocateReservation>
{
    public async Task Consume(ConsumeContext<AllocateReservation> context)
    {
        var command = context.Message;
        var pipeline = pipelines.GetPipeline(ServiceNames.Inventory);
        var request = new PlaceHoldsRequest
        {
            ReservationId = command.ReservationId.ToString(),
            PlanVersion = command.PlanVersion,
            ExpiresAt = Timestamp.FromDateTimeOffset(command.HoldsExpireAt),
        };
        var reasons = new List<string>();
        var saga = await db.Sagas.AsNoTracking().Where(s => s.CorrelationId == command.ReservationId)
            .Select(s => new { s.BuyerId, s.CurrentState, s.PlanVersion }).SingleAsync(context.CancellationToken);
        // A redelivered plan that was overtaken (the reservation ended, or planned again) holds nothing.
        if (ReservationStateMachine.TerminalStates.Contains(saga.CurrentState) || saga.PlanVersion != command.PlanVersion)
        {
            return;
        }

        var buyer = saga.BuyerId;

        foreach (var requested in command.Lines)
        {
            var line = AllocationPlanner.WithinBuyerCap(requested,
                await UnitsAllocatedToBuyerAsync(buyer, requested.Sku, command.ReservationId, context.CancellationToken),
                options.Value.MaxUnitsPerBuyerPerSku);
            if (line.Quantity == 0)
            {
                reasons.Add($"{requested.Sku}: the buyer already holds the most units of this SKU one buyer may ({options.Value.MaxUnitsPerBuyerPerSku}).");
                continue;
            }

            var offers = await pipeline.ExecuteAsync(
                async token => await inventory.GetOffersAsync(
                    new GetOffersRequest { Sku = line.Sku, Quantity = line.Quantity },
                    deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: token),
                context.CancellationToken);
            var plan = AllocationPlanner.Plan(line, offers.Offers.Select(ToStockOffer), options.Value.MaxDistributorsPerLine);
            if (plan.Count == 0)
            {
                reasons.Add($"{line.Sku}: no fresh offer within {line.MaxUnitPrice} {line.Currency} and the minimum order quantities.");
            }

            request.Holds.AddRange(plan.Select(hold => new HoldRequest
            {
                Sku = hold.Sku,
                DistributorId = hold.DistributorId,
                Warehouse = hold.Warehouse,
                Quantity = hold.Quantity,
                MaxUnitPrice = hold.MaxUnitPrice,
            }));
        }

        if (request.Holds.Count == 0)
        {
            await context.Publish(new NoStockOffered(command.ReservationId, command.PlanVersion, reasons));
            return;
        }

        await pipeline.ExecuteAsync(
            async token => await inventory.PlaceHoldsAsync(request, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: token),
            context.CancellationToken);
    }

    // Units of the SKU the buyer holds or has committed in its other reservations that are live or confirmed.
    private async Task<long> UnitsAllocatedToBuyerAsync(string buyer, string sku, Guid except, CancellationToken cancellationToken) =>
        await db.Database.SqlQuery<long>($"""
            SELECT COALESCE(SUM((hold->>'quantity')::bigint), 0) AS "Value"
            FROM reservation_sagas s, jsonb_array_elements(s.allocations) hold
            WHERE s.buyer_id = {buyer} AND s.reservation_id <> {except}
              AND s.current_state IN ('Allocating', 'Held', 'AwaitingStock', 'Confirming', 'Confirmed')
              AND hold->>'sku' = {sku}
            """).SingleAsync(cancellationToken);

    private static StockOffer ToStockOffer(Offer offer) => new(
        offer.DistributorId, offer.Warehouse, offer.Available, offer.UnitPrice, offer.Currency, offer.LeadTimeDays, offer.MinimumOrderQuantity);
}
