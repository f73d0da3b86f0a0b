using static System.FormattableString;

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

    /// <summary>The highest operand bit length a TOPS figure may be given for.</summary>
    public const int MaxBitLength = 256;

    /// <summary>
    /// The highest dense TOPS figure a product may have: a thousand times beyond any accelerator made. Figures have to stop
    /// somewhere below a double's range: TOPS × bit length ÷ die area of 1e308 and 1e-300 overflowed to infinity, a figure
    /// a JSON answer cannot carry (the classification failed with a 500) and no threshold compares meaningfully.
    /// </summary>
    public const double MaxTeraOps = 1_000_000_000;

    /// <summary>The smallest applicable die area, mm²: a tenth of a millimetre square; nothing the rules read is smaller.</summary>
    public const double MinDieAreaMm2 = 0.01;

    /// <summary>The largest applicable die area, mm²: ten times a whole 300 mm wafer (about 70,700 mm²).</summary>
    public const double MaxDieAreaMm2 = 1_000_000;

    /// <summary>The highest chip-to-chip transfer rate, GB/s.</summary>
    public const double MaxInterconnectGBps = 1_000_000_000;

    /// <summary>The highest TPP figures within these bounds can give.</summary>
    public const double MaxTpp = MaxTeraOps * MaxBitLength;

    /// <summary>The highest performance density figures within these bounds can give.</summary>
    public const double MaxPerformanceDensity = MaxTpp / MinDieAreaMm2;

    /// <summary>Why these specs cannot be classified, each under the figure at fault; empty when they can.</summary>
    public IReadOnlyList<(string Field, string Problem)> Problems()
    {
        var problems = new List<(string, string)>();
        if (DenseTeraOpsByBitLength.Count == 0)
        {
            problems.Add(("denseTeraOpsByBitLength", "no dense TOPS figure is given"));
        }

        foreach (var (bits, teraOps) in DenseTeraOpsByBitLength)
        {
            if (bits is <= 0 or > MaxBitLength)
            {
                problems.Add(("denseTeraOpsByBitLength", Invariant($"bit lengths run from 1 to {MaxBitLength}, not {bits}")));
            }
            else if (!(teraOps >= 0) || teraOps > MaxTeraOps)
            {
                problems.Add(($"denseTeraOpsByBitLength.{bits}", Invariant($"a TOPS figure runs from 0 to {MaxTeraOps:0}")));
            }
        }

        if (!(DieAreaMm2 >= MinDieAreaMm2) || DieAreaMm2 > MaxDieAreaMm2)
        {
            problems.Add(("dieAreaMm2", Invariant($"the die area runs from {MinDieAreaMm2} to {MaxDieAreaMm2:0} mm²")));
        }

        if (!(InterconnectGBps >= 0) || InterconnectGBps > MaxInterconnectGBps)
        {
            problems.Add(("interconnectGBps", Invariant($"the interconnect rate runs from 0 to {MaxInterconnectGBps:0} GB/s")));
        }

        return problems;
    }
}
