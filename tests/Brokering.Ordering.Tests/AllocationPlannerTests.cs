using Brokering.Contracts.Ordering;
using Brokering.Ordering.Activities;
using Shouldly;

namespace Brokering.Ordering.Tests;

public sealed class AllocationPlannerTests
{
    private static readonly ReservationLine Line = new("NVIDIA-H800-SXM5-80GB", 100, 30_000m, "USD");

    [Fact]
    public void Cheapest_offers_are_taken_first_until_the_line_is_full()
    {
        var plan = AllocationPlanner.Plan(Line,
        [
            new StockOffer("avnet", "SIN", 80, 29_500m, "USD", 5, 1),
            new StockOffer("arrow", "HKG", 60, 28_000m, "USD", 3, 1),
        ], maxDistributors: 3);

        plan.Select(hold => (hold.DistributorId, hold.Quantity)).ShouldBe([("arrow", 60L), ("avnet", 40L)]);
    }

    [Fact]
    public void Offers_above_the_price_ceiling_or_in_another_currency_are_never_planned()
    {
        var plan = AllocationPlanner.Plan(Line,
        [
            new StockOffer("arrow", "HKG", 500, 30_000.01m, "USD", 1, 1),
            new StockOffer("wpg", "TPE", 500, 100m, "EUR", 1, 1),
        ], maxDistributors: 3);

        plan.ShouldBeEmpty();
    }

    [Fact]
    public void An_offer_whose_minimum_order_exceeds_what_is_still_needed_is_skipped()
    {
        var plan = AllocationPlanner.Plan(Line,
        [
            new StockOffer("arrow", "HKG", 90, 28_000m, "USD", 1, 1),
            new StockOffer("avnet", "SIN", 500, 28_500m, "USD", 1, 50),
            new StockOffer("wpg", "TPE", 500, 29_000m, "USD", 1, 5),
        ], maxDistributors: 3);

        plan.Select(hold => (hold.DistributorId, hold.Quantity)).ShouldBe([("arrow", 90L), ("wpg", 10L)]);
    }

    [Fact]
    public void A_line_is_split_across_no_more_than_the_configured_number_of_distributors()
    {
        var plan = AllocationPlanner.Plan(Line,
        [
            new StockOffer("a", "1", 10, 1m, "USD", 1, 1),
            new StockOffer("b", "1", 10, 2m, "USD", 1, 1),
            new StockOffer("c", "1", 10, 3m, "USD", 1, 1),
        ], maxDistributors: 2);

        plan.Select(hold => hold.DistributorId).ShouldBe(["a", "b"]);
        plan.Sum(hold => hold.Quantity).ShouldBe(20);
    }

    [Fact]
    public void A_buyer_near_its_cap_on_a_sku_is_planned_only_up_to_the_cap()
    {
        AllocationPlanner.WithinBuyerCap(Line, alreadyAllocated: 1950, cap: 2000).Quantity.ShouldBe(50);
        AllocationPlanner.WithinBuyerCap(Line, alreadyAllocated: 2000, cap: 2000).Quantity.ShouldBe(0);
        AllocationPlanner.WithinBuyerCap(Line, alreadyAllocated: 2500, cap: 2000).Quantity.ShouldBe(0);
        AllocationPlanner.WithinBuyerCap(Line, alreadyAllocated: 0, cap: 2000).Quantity.ShouldBe(100);
    }

    [Fact]
    public void A_cap_of_zero_means_no_cap() =>
        AllocationPlanner.WithinBuyerCap(Line, alreadyAllocated: 1_000_000, cap: 0).Quantity.ShouldBe(100);
}
