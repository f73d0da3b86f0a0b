using Brokering.Compliance.Catalogue;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.RuleSets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Compliance.Data;

/// <summary>The reference data one screening or classification reads, consistent as of one moment.</summary>
/// <param name="RuleSets">Every published rule set, in publication order.</param>
/// <param name="Products">The catalogue by SKU (case-insensitive).</param>
/// <param name="Groups">Country-group membership.</param>
/// <param name="List">The restricted-party list's state; null when no list was ever loaded.</param>
/// <param name="Matcher">The list's entries, ready to match names against.</param>
internal sealed record ReferenceSnapshot(
    IReadOnlyList<RuleSet> RuleSets,
    IReadOnlyDictionary<string, Product> Products,
    CountryGroupDirectory Groups,
    RestrictedPartyList? List,
    RestrictedPartyMatcher Matcher)
{
    /// <summary>The most recently published rule set: the regime screening applies.</summary>
    public RuleSet? Current => RuleSets.Count == 0 ? null : RuleSets[^1];
}

/// <summary>
/// Keeps rule sets, catalogue, country groups and list entries in memory. Each read asks the database
/// two cheap questions in one query (the latest rule-set sequence, the list's version and freshness) and reloads only
/// what changed, so every replica sees a publication or a list change on its next screening.
/// </summary>
internal sealed class ReferenceDataCache(IOptionsMonitor<ComplianceOptions> options) : IDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private Statics? statics;
    private RuleSetsLoaded? ruleSets;
    private ListLoaded? list;

    public async Task<ReferenceSnapshot> GetAsync(ComplianceDbContext db, CancellationToken cancellationToken)
    {
        // Both questions in one round trip, and one snapshot of both: a screening asks them twice (to decide, then to vouch).
        var versions = await db.Database.SqlQuery<ReferenceVersions>($"""
            SELECT coalesce((SELECT max(r.sequence) FROM rule_sets AS r), 0) AS latest_sequence,
                   l.id, l.version, l.refreshed_at, l.source, l.refreshed_by
            FROM (SELECT 1) AS one LEFT JOIN restricted_party_lists AS l ON l.id = {RestrictedPartyList.CurrentId}
            """).SingleAsync(cancellationToken);
        var latestSequence = versions.LatestSequence;
        var listState = versions.List();
        var threshold = options.CurrentValue.MatchThreshold;
        var reviewThreshold = options.CurrentValue.ReviewThreshold;

        var (currentStatics, currentRuleSets, currentList) = (statics, ruleSets, list);
        if (currentStatics is null || currentRuleSets?.Sequence != latestSequence
            || currentList?.Version != (listState?.Version ?? 0) || currentList.Threshold != threshold
            || currentList.ReviewThreshold != reviewThreshold)
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                statics ??= await LoadStaticsAsync(db, cancellationToken);
                if (ruleSets?.Sequence != latestSequence)
                {
                    var all = await db.RuleSets.AsNoTracking().OrderBy(ruleSet => ruleSet.Sequence).ToListAsync(cancellationToken);
                    ruleSets = new RuleSetsLoaded(all.Count == 0 ? 0 : all[^1].Sequence, all);
                }

                var version = listState?.Version ?? 0;
                if (list?.Version != version || list.Threshold != threshold || list.ReviewThreshold != reviewThreshold)
                {
                    var entries = await db.RestrictedPartyEntries.AsNoTracking().OrderBy(entry => entry.Name).ToListAsync(cancellationToken);
                    list = new ListLoaded(version, threshold, reviewThreshold, new RestrictedPartyMatcher(entries, threshold, reviewThreshold));
                }

                (currentStatics, currentRuleSets, currentList) = (statics, ruleSets, list);
            }
            finally
            {
                gate.Release();
            }
        }

        return new ReferenceSnapshot(currentRuleSets!.All, currentStatics.Products, currentStatics.Groups, listState, currentList!.Matcher);
    }

    public void Dispose() => gate.Dispose();

    /// <summary>Forgets the catalogue and country groups (they change only when seeded).</summary>
    public void InvalidateStatics() => statics = null;

    private static async Task<Statics> LoadStaticsAsync(ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var products = await db.Products.AsNoTracking().ToListAsync(cancellationToken);
        var groups = await db.CountryGroups.AsNoTracking().ToListAsync(cancellationToken);
        return new Statics(
            products.ToDictionary(product => product.Sku, Brokering.Contracts.Sku.Comparer),
            new CountryGroupDirectory(groups));
    }

    /// <summary>The latest rule-set sequence and the current list's row (all null when no list was ever loaded).</summary>
    private sealed class ReferenceVersions
    {
        public long LatestSequence { get; init; }

        public string? Id { get; init; }

        public long? Version { get; init; }

        public DateTimeOffset? RefreshedAt { get; init; }

        public string? Source { get; init; }

        public string? RefreshedBy { get; init; }

        /// <summary>The list's row; its columns are non-null whenever the row exists.</summary>
        public RestrictedPartyList? List() => Id is null
            ? null
            : new RestrictedPartyList
            {
                Id = Id,
                Version = Version.GetValueOrDefault(),
                RefreshedAt = RefreshedAt.GetValueOrDefault(),
                Source = Source,
                RefreshedBy = RefreshedBy,
            };
    }

    private sealed record Statics(IReadOnlyDictionary<string, Product> Products, CountryGroupDirectory Groups);

    private sealed record RuleSetsLoaded(long Sequence, IReadOnlyList<RuleSet> All);

    private sealed record ListLoaded(long Version, double Threshold, double ReviewThreshold, RestrictedPartyMatcher Matcher);
}
