namespace Brokering.Compliance.Classification;

/// <summary>The technical figures of a product that the export rules read.</summary>
/// <param name="DenseTeraOpsByBitLength">Dense (no sparsity) tera-operations per second by operand bit length.</param>
/// <param name="DieAreaMm2">Applicable (logic) die area in mm².</param>
/// <param name="InterconnectGBps">Chip-to-chip bidirectional transfer rate in GB/s.</param>
/// <param name="Datacenter">Designed or marketed for datacenters.</param>
internal sealed record ProductSpecs(
    IReadOnlyDictionary<int, double> DenseTeraOpsByBitLength,
    double DieAreaMm2,
    double InterconnectGBps,
    bool Datacenter)
{
    /// <summary>
    /// Total processing performance: 2 × MacTOPS × bit length, the highest over the supported widths.
    /// Datasheet TOPS count a multiply-accumulate as two operations, so MacTOPS = TOPS ÷ 2.
    /// </summary>
    public double TotalProcessingPerformance =>
        DenseTeraOpsByBitLength.Count == 0 ? 0 : DenseTeraOpsByBitLength.Max(width => 2 * (width.Value / 2) * width.Key);

    /// <summary>Performance density: TPP ÷ applicable die area.</summary>
    public double PerformanceDensity => DieAreaMm2 > 0 ? TotalProcessingPerformance / DieAreaMm2 : 0;

    /// <summary>Why these specs cannot be classified, or an empty list when they can.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (DenseTeraOpsByBitLength.Count == 0)
        {
            problems.Add("no dense TOPS figure is given");
        }

        if (DenseTeraOpsByBitLength.Any(width => width.Key <= 0 || width.Value < 0 || !double.IsFinite(width.Value)))
        {
            problems.Add("bit lengths must be positive and TOPS figures finite and not negative");
        }

        if (!(DieAreaMm2 > 0) || !double.IsFinite(DieAreaMm2))
        {
            problems.Add("the die area must be positive");
        }

        if (!(InterconnectGBps >= 0) || !double.IsFinite(InterconnectGBps))
        {
            problems.Add("the interconnect rate must not be negative");
        }

        return problems;
    }
}
