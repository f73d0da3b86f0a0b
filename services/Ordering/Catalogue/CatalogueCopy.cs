using System.Collections.Frozen;

namespace Brokering.Ordering.Catalogue;

/// <summary>What ordering's copy of the catalogue can say about a SKU.</summary>
public enum SkuStanding
{
    /// <summary>The SKU is in the catalogue.</summary>
    Known,

    /// <summary>A fresh copy of the catalogue does not list the SKU: the buyer is told at once.</summary>
    Unknown,

    /// <summary>
    /// The copy is missing or too old to refuse anything on: the reservation is accepted and compliance,
    /// which screens every line against its own catalogue, rejects an unknown SKU with the reason.
    /// </summary>
    Undecided,
}

/// <summary>
/// Ordering's own copy of compliance's catalogue SKUs, so a submission can be refused for an unknown SKU
/// without asking another service anything on the request path: a reservation is accepted before any
/// other service is asked anything, so a compliance outage never loses an order. Compliance stays the
/// source of truth; this copy only ever turns a certain "unknown" into an early 400. It fails open:
/// with no copy, or one older than <see cref="OrderingOptions.CatalogueMaxAge"/> (compliance unreachable
/// for long, so a product added since would be refused wrongly), it refuses nothing.
/// </summary>
public sealed class CatalogueCopy(TimeProvider clock, Microsoft.Extensions.Options.IOptions<OrderingOptions> options)
{
    private volatile Snapshot? current;

    /// <summary>When the copy was last refreshed from compliance; null before the first refresh.</summary>
    public DateTimeOffset? RefreshedAt => current?.RefreshedAt;

    /// <summary>Number of SKUs in the copy.</summary>
    public int Count => current?.Skus.Count ?? 0;

    /// <summary>Replaces the copy with the catalogue as compliance listed it at <paramref name="refreshedAt"/>.</summary>
    public void Replace(IEnumerable<string> skus, DateTimeOffset refreshedAt) =>
        // Compliance matches SKUs case-insensitively; so does the copy, or it would refuse what screening accepts.
        current = new Snapshot(skus.ToFrozenSet(StringComparer.OrdinalIgnoreCase), refreshedAt);

    public SkuStanding Standing(string sku)
    {
        var snapshot = current;
        // An empty list is not a catalogue: a compliance without products would otherwise refuse every order here.
        if (snapshot is null || snapshot.Skus.Count == 0 || clock.GetUtcNow() - snapshot.RefreshedAt > options.Value.CatalogueMaxAge)
        {
            return SkuStanding.Undecided;
        }

        return snapshot.Skus.Contains(sku) ? SkuStanding.Known : SkuStanding.Unknown;
    }

    private sealed record Snapshot(FrozenSet<string> Skus, DateTimeOffset RefreshedAt);
}
