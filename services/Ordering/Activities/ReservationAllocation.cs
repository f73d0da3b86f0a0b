using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>
/// One plan of a reservation: claims the buyer's share of each outstanding line, reads inventory's offers, plans the
/// split and asks inventory to hold it. PlaceHolds is idempotent per plan version, so a plan made again holds nothing
/// twice and is answered with the same holds.
/// </summary>
public sealed class ReservationAllocation(
    BuyerSkuClaims claims,
    HoldsLedger.HoldsLedgerClient inventory,
    ResiliencePipelineProvider<string> pipelines,
    IOptions<OrderingOptions> options,
    TimeProvider clock)
{
    /// <summary>
    /// Makes the plan. The answer is the saga's next event: <see cref="HoldsPlaced"/> (what inventory held, also
    /// published by inventory), <see cref="NoStockOffered"/> or <see cref="AllocationWindowClosed"/>.
    /// Inventory is called as <paramref name="mode"/> says.
    /// </summary>
    public async Task<object> PlanAsync(string buyerId, AllocateReservation command, CallMode mode, CancellationToken cancellationToken)
    {
        // Inventory refuses holds that would expire in the past, so a plan reached only after its window closed (its
        // tries waited out an outage longer than the window) could never be placed: redelivering it would keep the
        // reservation Allocating until its cutoff. The saga ends it as lapsed instead.
        if (command.HoldsExpireAt <= clock.GetUtcNow())
        {
            return new AllocationWindowClosed(command.ReservationId, command.PlanVersion, command.HoldsExpireAt);
        }

        var request = new PlaceHoldsRequest
        {
            ReservationId = command.ReservationId.ToString(),
            PlanVersion = command.PlanVersion,
            ExpiresAt = Timestamp.FromDateTimeOffset(command.HoldsExpireAt),
            // The buyer tenant, so each distributor learns who its units are held and ordered for.
            BuyerOrganisation = buyerId,
        };
        var reasons = new List<string>();
        var passedOver = false;
        var cap = options.Value.MaxUnitsPerBuyerPerSku;

        // Every line's share claimed at once, before the first call to inventory: one commit for the whole plan, shared
        // with the other plans claiming at that moment.
        var requestedLines = command.Lines.OrderBy(line => line.Sku, StringComparer.Ordinal).ToList();
        var granted = await claims.ClaimAsync(buyerId, command.ReservationId, command.PlanVersion, requestedLines, cap, cancellationToken);
        for (var i = 0; i < requestedLines.Count; i++)
        {
            var (requested, line) = (requestedLines[i], granted[i]);
            if (line.Quantity == 0)
            {
                reasons.Add($"{requested.Sku}: the buyer already holds, or is being allocated, the most units of this SKU one buyer may ({cap}).");
                passedOver = true;
                continue;
            }

            var offers = await mode.CallAsync(pipelines, ServiceNames.Inventory, TimeSpan.FromSeconds(5),
                async (deadline, token) => await inventory.GetOffersAsync(
                    new GetOffersRequest { Sku = line.Sku, Quantity = line.Quantity }, deadline: deadline, cancellationToken: token),
                cancellationToken);
            var plan = AllocationPlanner.Plan(line, offers.Offers.Select(ToStockOffer), options.Value.MaxDistributorsPerLine);
            if (plan.Count == 0)
            {
                reasons.Add($"{line.Sku}: no fresh offer within {line.MaxUnitPrice} {line.Currency} and the minimum order quantities.");
                passedOver |= offers.Offers.Any(offer => offer.Available > 0);
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
            return new NoStockOffered(command.ReservationId, command.PlanVersion, reasons, passedOver);
        }

        var placed = await mode.CallAsync(pipelines, ServiceNames.Inventory, TimeSpan.FromSeconds(10),
            async (deadline, token) => await inventory.PlaceHoldsAsync(request, deadline: deadline, cancellationToken: token),
            cancellationToken);
        return new HoldsPlaced(command.ReservationId, command.PlanVersion, [.. placed.Holds.Select(ToPlacedHold)], command.HoldsExpireAt);
    }

    private static StockOffer ToStockOffer(Offer offer) => new(
        offer.DistributorId, offer.Warehouse, offer.Available, offer.UnitPrice, offer.Currency, offer.LeadTimeDays, offer.MinimumOrderQuantity);

    private static Contracts.Inventory.PlacedHold ToPlacedHold(Contracts.Grpc.Inventory.PlacedHold hold) => new(
        Guid.TryParse(hold.HoldId, out var id) ? id : Guid.Empty,
        hold.Sku, hold.DistributorId, hold.Warehouse, hold.Requested, hold.Held, hold.UnitPrice ?? 0m, hold.Currency);
}
