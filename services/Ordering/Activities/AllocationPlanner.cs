using Brokering.Contracts.Ordering;

namespace Brokering.Ordering.Activities;

/// <summary>One distributor warehouse's offer of a SKU, as inventory lists it.</summary>
public sealed record StockOffer(string DistributorId, string Warehouse, long Available, decimal UnitPrice, string Currency, int LeadTimeDays, long MinimumOrderQuantity);

/// <summary>Units to hold at one distributor's warehouse.</summary>
public sealed record PlannedHold(string Sku, string DistributorId, string Warehouse, long Quantity, decimal MaxUnitPrice);

/// <summary>
/// Splits a line across distributors' offers: cheapest first (then shortest lead time), never
/// above the buyer's price ceiling or in another currency, never below a distributor's minimum
/// order, and across at most a configured number of distributors.
/// </summary>
public static class AllocationPlanner
{
    /// <summary>
    /// The part of a line a buyer may still be allocated under a per-buyer cap on the SKU, given what already
    /// counts against the cap: the buyer's holds and commitments, and its plans in flight (a cap of zero means none).
    /// </summary>
    public static ReservationLine WithinBuyerCap(ReservationLine line, long alreadyAllocated, long cap) =>
        cap <= 0 ? line : line with { Quantity = Math.Clamp(cap - alreadyAllocated, 0, line.Quantity) };

    public static IReadOnlyList<PlannedHold> Plan(ReservationLine line, IEnumerable<StockOffer> offers, int maxDistributors)
    {
        var plan = new List<PlannedHold>();
        var remaining = line.Quantity;
        var eligible = offers
            .Where(offer => offer.Available > 0
                && offer.UnitPrice <= line.MaxUnitPrice
                && string.Equals(offer.Currency, line.Currency, StringComparison.OrdinalIgnoreCase))
            .OrderBy(offer => offer.UnitPrice)
            .ThenBy(offer => offer.LeadTimeDays)
            .ThenByDescending(offer => offer.Available);

        foreach (var offer in eligible)
        {
            if (remaining == 0 || plan.Select(hold => hold.DistributorId).Distinct().Count() >= maxDistributors
                && !plan.Any(hold => hold.DistributorId == offer.DistributorId))
            {
                continue;
            }

            var quantity = Math.Min(remaining, offer.Available);
            if (quantity < offer.MinimumOrderQuantity)
            {
                continue;
            }

            plan.Add(new PlannedHold(line.Sku, offer.DistributorId, offer.Warehouse, quantity, line.MaxUnitPrice));
            remaining -= quantity;
        }

        return plan;
    }
}
