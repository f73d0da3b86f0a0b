using System.Collections.Frozen;

namespace Brokering.Ordering.Catalogue;

/// <summary>What ordering's copy of the catalogue can say about a SKU.</summary>
public enum SkuStanding
{
    /// <summary>The SKU is in the catalogue (a stale copy still vouches for what it lists: products are not withdrawn between refreshes).</summary>
    Known,

    /// <summary>A fresh copy of the catalogue does not list the SKU: the buyer is told at once (400).</summary>
    Unknown,

    /// <summary>
    /// The copy cannot vouch for the SKU: there is no copy yet, compliance listed nothing, or the copy is older than
    /// <see cref="OrderingOptions.CatalogueMaxAge"/> and does not list it (a product added since would be refused
    /// wrongly as unknown). The submission is refused as retryable (503) and nothing is stored (docs/security.md,
    /// "Ordering's catalogue copy fails closed").
    /// </summary>
    Undecided,
}

/// <summary>
/// Ordering's own copy of compliance's catalogue SKUs, so a submission is checked against the catalogue without
/// asking another service anything on the request path. Compliance stays the source of truth and screens every
/// line again. It fails closed: what the copy cannot vouch for is refused as "try again", never accepted on trust,
/// so an order for a SKU nobody checked is never taken while compliance is out of reach.
/// </summary>
public sealed class CatalogueCopy(TimeProvider clock, Microsoft.Extensions.Options.IOptions<OrderingOptions> options)
{
    private volatile Snapshot? current;

    /// <summary>When the copy was last refreshed from compliance; null before the first refresh.</summary>
    public DateTimeOffset? RefreshedAt => current?.RefreshedAt;

    /// <summary>Number of SKUs in the copy.</summary>
    public int Count => current?.Skus.Count ?? 0;

    /// <summary>Whether compliance has listed its catalogue at least once: until then the copy vouches for nothing.</summary>
    public bool Loaded => current is { Skus.Count: > 0 };

    /// <summary>Whether the copy is older than <see cref="OrderingOptions.CatalogueMaxAge"/>: it then vouches only for what it lists.</summary>
    public bool Stale => current is { } snapshot && clock.GetUtcNow() - snapshot.RefreshedAt > options.Value.CatalogueMaxAge;

    /// <summary>Replaces the copy with the catalogue as compliance listed it at <paramref name="refreshedAt"/>.</summary>
    public void Replace(IEnumerable<string> skus, DateTimeOffset refreshedAt) =>
        // Compliance matches SKUs case-insensitively; so does the copy, or it would refuse what screening accepts.
        current = new Snapshot(skus.ToFrozenSet(StringComparer.OrdinalIgnoreCase), refreshedAt);

    public SkuStanding Standing(string sku)
    {
        var snapshot = current;
        // An empty list is not a catalogue (compliance's reference data not loaded): it vouches for nothing.
        if (snapshot is null || snapshot.Skus.Count == 0)
        {
            return SkuStanding.Undecided;
        }

        if (snapshot.Skus.Contains(sku))
        {
            return SkuStanding.Known;
        }

        return clock.GetUtcNow() - snapshot.RefreshedAt > options.Value.CatalogueMaxAge ? SkuStanding.Undecided : SkuStanding.Unknown;
    }

    private sealed record Snapshot(FrozenSet<string> Skus, DateTimeOffset RefreshedAt);
}
