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
    IOptions<OrderingOptions> options,
    TimeProvider clock) : IConsumer<AllocateReservation>
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

        // Inventory refuses holds that would expire in the past, so a plan reached only after its window closed (its
        // tries waited out an outage longer than the window) could never be placed: redelivering it would keep the
        // reservation Allocating until its cutoff. The saga ends it as lapsed instead.
        if (command.HoldsExpireAt <= clock.GetUtcNow())
        {
            await context.Publish(new AllocationWindowClosed(command.ReservationId, command.PlanVersion, command.HoldsExpireAt));
            return;
        }

        var claims = new BuyerSkuClaims(db);

        // In SKU order, so two plans of one buyer take their (buyer, SKU) claim locks in the same order.
        foreach (var requested in command.Lines.OrderBy(line => line.Sku, StringComparer.Ordinal))
        {
            var cap = options.Value.MaxUnitsPerBuyerPerSku;
            var line = await claims.ClaimAsync(saga.BuyerId, command.ReservationId, command.PlanVersion, requested, cap, context.CancellationToken);
            if (line.Quantity == 0)
            {
                reasons.Add($"{requested.Sku}: the buyer already holds, or is being allocated, the most units of this SKU one buyer may ({cap}).");
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

    private static StockOffer ToStockOffer(Offer offer) => new(
        offer.DistributorId, offer.Warehouse, offer.Available, offer.UnitPrice, offer.Currency, offer.LeadTimeDays, offer.MinimumOrderQuantity);
}
