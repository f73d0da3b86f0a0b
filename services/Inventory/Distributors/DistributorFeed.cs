using Brokering.Inventory.Data;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Inventory.Distributors;

/// <summary>Where one distributor's feed stands, judged at <paramref name="AsOf"/>.</summary>
/// <param name="DistributorId">The distributor.</param>
/// <param name="Name">Its display name.</param>
/// <param name="LastSequence">Sequence of the last applied update (0 before the first).</param>
/// <param name="LastFeedAt">When the last update was applied; null before the first.</param>
/// <param name="Stale">Never applied, or older than the stale threshold: the distributor's stock is neither offered nor held.</param>
/// <param name="GapOpen">Some skipped sequence has neither arrived nor been superseded by a snapshot: the stock is not offered.</param>
/// <param name="AsOf">The instant freshness was judged at.</param>
public sealed record DistributorFeed(
    string DistributorId, string Name, long LastSequence, DateTimeOffset? LastFeedAt, bool Stale, bool GapOpen, DateTimeOffset AsOf)
{
    /// <summary>How old the last applied update is; null before the first.</summary>
    public TimeSpan? Age => LastFeedAt is { } at ? AsOf - at : null;

    public static DistributorFeed Of(Distributor distributor, DateTimeOffset now, TimeSpan staleAfter) => new(
        distributor.Id, distributor.Name, distributor.LastSequence, distributor.LastFeedAt,
        distributor.LastFeedAt is not { } at || at <= now - staleAfter, distributor.GapOpen, now);

    /// <summary>Every registered distributor's freshness, by id (one small read of the distributors table).</summary>
    public static async Task<IReadOnlyList<DistributorFeed>> AllAsync(
        InventoryDbContext db, DateTimeOffset now, TimeSpan staleAfter, CancellationToken cancellationToken)
    {
        var distributors = await db.Distributors.AsNoTracking().OrderBy(d => d.Id).ToListAsync(cancellationToken);
        return [.. distributors.Select(d => Of(d, now, staleAfter))];
    }
}
