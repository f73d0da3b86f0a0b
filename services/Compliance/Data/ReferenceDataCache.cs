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
/// two cheap questions (the latest rule-set sequence, the list's version and freshness) and reloads only
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
        var latestSequence = await db.RuleSets.MaxAsync(ruleSet => (long?)ruleSet.Sequence, cancellationToken) ?? 0;
        var listState = await db.RestrictedPartyLists.AsNoTracking()
            .SingleOrDefaultAsync(candidate => candidate.Id == RestrictedPartyList.CurrentId, cancellationToken);
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

    private sealed record Statics(IReadOnlyDictionary<string, Product> Products, CountryGroupDirectory Groups);

    private sealed record RuleSetsLoaded(long Sequence, IReadOnlyList<RuleSet> All);

    private sealed record ListLoaded(long Version, double Threshold, double ReviewThreshold, RestrictedPartyMatcher Matcher);
}
