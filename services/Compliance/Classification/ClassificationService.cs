using Brokering.Compliance.Data;

namespace Brokering.Compliance.Classification;

/// <summary>What to classify: a catalogue SKU, explicit specs, or a SKU with some figures overridden.</summary>
/// <param name="Sku">Catalogue SKU; its specs fill whatever is not given explicitly.</param>
/// <param name="DenseTeraOpsByBitLength">Dense TOPS by bit length.</param>
/// <param name="DieAreaMm2">Applicable die area in mm².</param>
/// <param name="InterconnectGBps">Bidirectional transfer rate in GB/s.</param>
/// <param name="Datacenter">Designed or marketed for datacenters.</param>
internal sealed record ProductQuery(
    string? Sku,
    IReadOnlyDictionary<int, double>? DenseTeraOpsByBitLength,
    double? DieAreaMm2,
    double? InterconnectGBps,
    bool? Datacenter);

/// <summary>Why a product query cannot be classified: the field at fault and what is wrong.</summary>
internal sealed class ProductQueryException(string field, string message) : ArgumentException(message)
{
    public string Field { get; } = field;

    /// <summary>The SKU is not in the catalogue (rather than a malformed query).</summary>
    public bool UnknownSku { get; init; }
}

/// <summary>Classifies products at an instant, under the rule set in force then.</summary>
internal sealed class ClassificationService(ComplianceDbContext db, ReferenceDataCache cache, TimeProvider time)
{
    public async Task<(ClassificationResult Result, ProductSpecs Specs, DateTimeOffset At)> ClassifyAsync(
        ProductQuery query, DateTimeOffset? at, CancellationToken cancellationToken)
    {
        var snapshot = await cache.GetAsync(db, cancellationToken);
        var specs = Resolve(query, snapshot);
        var instant = at?.ToUniversalTime() ?? time.GetUtcNow();
        return (Classifier.ClassifyAt(snapshot.RuleSets, specs, instant), specs, instant);
    }

    /// <summary>The specs a query stands for: explicit figures over the catalogue's, all required in the end.</summary>
    public static ProductSpecs Resolve(ProductQuery query, ReferenceSnapshot snapshot)
    {
        Catalogue.Product? product = null;
        if (!string.IsNullOrWhiteSpace(query.Sku) && !snapshot.Products.TryGetValue(query.Sku.Trim(), out product))
        {
            throw new ProductQueryException("sku", $"Unknown SKU '{query.Sku}': it is not in the catalogue.") { UnknownSku = true };
        }

        var specs = new ProductSpecs(
            query.DenseTeraOpsByBitLength ?? product?.DenseTeraOpsByBitLength
                ?? throw new ProductQueryException("denseTeraOpsByBitLength", "Give a known SKU or the dense TOPS by bit length."),
            query.DieAreaMm2 ?? product?.DieAreaMm2
                ?? throw new ProductQueryException("dieAreaMm2", "Give a known SKU or the applicable die area in mm²."),
            query.InterconnectGBps ?? product?.InterconnectGBps
                ?? throw new ProductQueryException("interconnectGBps", "Give a known SKU or the bidirectional transfer rate in GB/s."),
            query.Datacenter ?? product?.Datacenter
                ?? throw new ProductQueryException("datacenter", "Give a known SKU or whether the product is designed or marketed for datacenters."));

        if (specs.Problems() is [var (field, _), ..] problems)
        {
            throw new ProductQueryException(field, $"The specs cannot be classified: {string.Join("; ", problems.Select(problem => problem.Problem))}.");
        }

        return specs;
    }
}
