using Brokering.Compliance.Classification;

namespace Brokering.Compliance.Catalogue;

/// <summary>A catalogue product with the technical figures the rules read (never a stored verdict).</summary>
internal sealed class Product
{
    /// <summary>Stable SKU, e.g. "NVIDIA-H100-SXM5-80GB".</summary>
    public required string Sku { get; init; }

    public required string Name { get; set; }

    public required string Vendor { get; set; }

    /// <summary>Dense tera-operations per second per operand format, as the datasheet lists them.</summary>
    public required Dictionary<string, double> DenseTeraOpsByFormat { get; set; }

    /// <summary>Dense tera-operations per second per bit length (the highest of the formats of that length).</summary>
    public required Dictionary<int, double> DenseTeraOpsByBitLength { get; set; }

    public required double DieAreaMm2 { get; set; }

    public required double InterconnectGBps { get; set; }

    public required bool Datacenter { get; set; }

    /// <summary>Where the figures come from.</summary>
    public required string Source { get; set; }

    public string? Notes { get; set; }

    public ProductSpecs Specs => new(DenseTeraOpsByBitLength, DieAreaMm2, InterconnectGBps, Datacenter);
}
