using Brokering.Ordering.Activities;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>Which waiting reservations a stock announcement wakes (<see cref="StockWake"/>).</summary>
public sealed class StockWakeTests
{
    private static readonly Guid[] Ids = [.. Enumerable.Range(0, 6).Select(_ => Guid.NewGuid())];

    private static StockWake.Waiting Lacking(int index, long units, DateTimeOffset? passedOverAt = null) =>
        new() { ReservationId = Ids[index], Missing = units, PassedOverAt = passedOverAt };

    [Fact]
    public void Wakes_the_oldest_until_what_they_lack_covers_the_units_announced()
    {
        var queue = new[] { Lacking(0, 4), Lacking(1, 4), Lacking(2, 4), Lacking(3, 4) };

        StockWake.Choose(queue, available: 5, passedOverToWake: 8).ShouldBe([Ids[0], Ids[1]]);
        StockWake.Choose(queue, available: 8, passedOverToWake: 8).ShouldBe([Ids[0], Ids[1]]);
        StockWake.Choose(queue, available: 1, passedOverToWake: 8).ShouldBe([Ids[0]]);
        StockWake.Choose(queue, available: 100, passedOverToWake: 8).ShouldBe(Ids[..4]);
    }

    [Fact]
    public void Wakes_nobody_for_an_announcement_of_no_units()
    {
        StockWake.Choose([Lacking(0, 4)], available: 0, passedOverToWake: 8).ShouldBeEmpty();
    }

    [Fact]
    public void Skips_reservations_that_lack_nothing_of_the_SKU_without_counting_them()
    {
        StockWake.Choose([Lacking(0, 0), Lacking(1, 3)], available: 3, passedOverToWake: 8).ShouldBe([Ids[1]]);
    }

    [Fact]
    public void Passed_over_reservations_do_not_use_up_units_and_are_woken_least_recently_passed_over_first_up_to_the_bound()
    {
        var now = DateTimeOffset.UtcNow;
        var queue = new[]
        {
            Lacking(0, 4, passedOverAt: now.AddSeconds(-1)),
            Lacking(1, 4, passedOverAt: now.AddSeconds(-30)),
            Lacking(2, 4, passedOverAt: now.AddSeconds(-10)),
            Lacking(3, 4),
            Lacking(4, 4),
        };

        StockWake.Choose(queue, available: 4, passedOverToWake: 2).ShouldBe([Ids[3], Ids[1], Ids[2]]);
        StockWake.Choose(queue, available: 4, passedOverToWake: 0).ShouldBe([Ids[3]]);
    }
}
