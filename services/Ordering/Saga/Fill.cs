namespace Brokering.Ordering.Saga;

/// <summary>How much of a reservation is held: the numbers the fill policy decides on.</summary>
public readonly record struct Fill(long Requested, long Allocated, bool EveryLineFull)
{
    public static Fill Of(ReservationState saga) => new(
        saga.UnitsRequested,
        saga.UnitsAllocated,
        saga.Lines.All(line => saga.Allocations.Where(a => a.Sku == line.Sku).Sum(a => a.Quantity) >= line.Quantity));

    public bool IsComplete => EveryLineFull;

    public decimal Ratio => Requested == 0 ? 0m : (decimal)Allocated / Requested;

    /// <summary>True when something is held and at least <paramref name="minFillRatio"/> of the units.</summary>
    public bool Satisfies(decimal minFillRatio) => Allocated > 0 && Ratio >= minFillRatio;
}
