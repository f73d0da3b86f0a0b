using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Ordering;
using Google.Protobuf.WellKnownTypes;
using MassTransit;
using Microsoft.Extensions.Options;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Reads inventory's offers for each outstanding line, plans the split, and asks inventory to
/// hold it. Inventory reports what it held with <c>HoldsPlaced</c>; the call is idempotent per
/// plan version, so a redelivered command holds nothing twice.
/// </summary>
public sealed class AllocateReservationConsumer(
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

        foreach (var line in command.Lines)
        {
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
