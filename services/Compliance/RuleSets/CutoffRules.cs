using Brokering.Compliance.Classification;
using Brokering.Contracts.Compliance;
using static System.FormattableString;

namespace Brokering.Compliance.RuleSets;

/// <summary>The cutoff of a sale under one rule set: the instant after which it needs a licence.</summary>
/// <param name="Classification">The product's classification under the rule set.</param>
/// <param name="Cutoff">Null when the rule set does not restrict this sale.</param>
/// <param name="Reasons">Why, in words.</param>
internal sealed record CutoffAssessment(ClassificationResult Classification, DateTimeOffset? Cutoff, IReadOnlyList<string> Reasons);

/// <summary>Cutoffs computed from rule sets (pure).</summary>
internal static class CutoffRules
{
    /// <summary>
    /// The cutoff for selling a product to a destination under <paramref name="ruleSet"/>: its effective
    /// instant for the product's class (the accelerated one where it applies) when the product is controlled
    /// and the destination, or the buyer's parent headquarters, is in the rule's scope; otherwise none.
    /// </summary>
    public static CutoffAssessment Assess(
        RuleSet ruleSet, ProductSpecs specs, string destinationCountry, string? parentHeadquartersCountry, CountryGroupDirectory groups)
    {
        var classification = Classifier.Classify(specs, ruleSet);
        var reasons = new List<string>(classification.Reasons);
        if (!classification.IsControlled)
        {
            reasons.Add($"not restricted under rule set {ruleSet.Version}: no cutoff");
            return new CutoffAssessment(classification, null, reasons);
        }

        var definition = ruleSet.Definition;
        var destinationInScope = groups.Contains(definition.Destinations, destinationCountry, out var destinationWhy);
        var parentInScope = false;
        var parentWhy = string.Empty;
        if (definition.ParentHeadquarters is { } parentScope && !string.IsNullOrEmpty(parentHeadquartersCountry))
        {
            parentInScope = groups.Contains(parentScope, parentHeadquartersCountry, out parentWhy);
        }

        if (!destinationInScope && !parentInScope)
        {
            reasons.Add($"destination {destinationWhy}: not restricted under rule set {ruleSet.Version}, no cutoff");
            return new CutoffAssessment(classification, null, reasons);
        }

        if (destinationInScope)
        {
            reasons.Add($"destination {destinationWhy}, restricted under rule set {ruleSet.Version}");
        }

        if (parentInScope)
        {
            reasons.Add($"the buyer's ultimate parent is headquartered where rule set {ruleSet.Version} requires a licence whatever the destination ({parentWhy})");
        }

        var cutoff = ruleSet.EffectiveAtFor(specs);
        reasons.Add(cutoff < ruleSet.EffectiveAt
            ? Invariant($"a licence is needed from {cutoff:yyyy-MM-ddTHH:mm:ss.FFFZ} (accelerated for this product; the rule's general effective instant is {ruleSet.EffectiveAt:yyyy-MM-ddTHH:mm:ss.FFFZ})")
            : Invariant($"a licence is needed from {cutoff:yyyy-MM-ddTHH:mm:ss.FFFZ}"));
        return new CutoffAssessment(classification, cutoff, reasons);
    }

    /// <summary>
    /// Where publishing <paramref name="next"/> after <paramref name="previous"/> moves a cutoff: for every
    /// catalogue product and every destination either rule set restricts, the new cutoff where it differs
    /// from the old one. Grouped into one event per (new cutoff, set of destinations), SKUs sorted.
    /// Sales that lose their cutoff are not announced: keeping an old cutoff is the conservative side.
    /// </summary>
    public static IReadOnlyList<CutoffChanged> Changes(
        RuleSet? previous,
        RuleSet next,
        IEnumerable<(string Sku, ProductSpecs Specs)> products,
        CountryGroupDirectory groups,
        DateTimeOffset at)
    {
        var destinations = new SortedSet<string>(groups.Resolve(next.Definition.Destinations), StringComparer.Ordinal);
        if (previous is not null)
        {
            destinations.UnionWith(groups.Resolve(previous.Definition.Destinations));
        }

        var moved = new Dictionary<(DateTimeOffset Cutoff, string Sku), SortedSet<string>>();
        foreach (var (sku, specs) in products)
        {
            foreach (var destination in destinations)
            {
                var newCutoff = Assess(next, specs, destination, null, groups).Cutoff;
                var oldCutoff = previous is null ? null : Assess(previous, specs, destination, null, groups).Cutoff;
                if (newCutoff is { } cutoff && cutoff != oldCutoff)
                {
                    if (!moved.TryGetValue((cutoff, sku), out var countries))
                    {
                        moved[(cutoff, sku)] = countries = new SortedSet<string>(StringComparer.Ordinal);
                    }

                    countries.Add(destination);
                }
            }
        }

        return
        [
            .. moved
                .GroupBy(entry => (entry.Key.Cutoff, Countries: string.Join(",", entry.Value)))
                .OrderBy(group => group.Key.Cutoff).ThenBy(group => group.Key.Countries, StringComparer.Ordinal)
                .Select(group => new CutoffChanged(
                    next.Version,
                    [.. group.Select(entry => entry.Key.Sku).Order(StringComparer.Ordinal)],
                    [.. group.First().Value],
                    group.Key.Cutoff,
                    at)),
        ];
    }
}
