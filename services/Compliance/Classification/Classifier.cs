using Brokering.Compliance.RuleSets;
using static System.FormattableString;

namespace Brokering.Compliance.Classification;

/// <summary>
/// Classifies products from their specs under a rule set. Pure: the verdict is computed from the
/// figures and the rule set's thresholds every time, never stored with the product.
/// </summary>
internal static class Classifier
{
    /// <summary>Classifies <paramref name="specs"/> under the thresholds of <paramref name="ruleSet"/>.</summary>
    public static ClassificationResult Classify(ProductSpecs specs, RuleSet ruleSet)
    {
        var tpp = specs.TotalProcessingPerformance;
        var density = specs.PerformanceDensity;
        var definition = ruleSet.Definition;
        var figures = Invariant($"TPP {tpp:0.##}, PD {density:0.###}, interconnect {specs.InterconnectGBps:0.##} GB/s");

        if (definition.NonDatacenterExemptBelowTpp is { } exemptBelow && !specs.Datacenter && tpp < exemptBelow)
        {
            return new ClassificationResult(ExportClassification.None, tpp, density, ruleSet.Version,
            [
                Invariant($"not designed or marketed for datacenters and TPP {tpp:0.##} < {exemptBelow:0.##}: outside 3A090 under rule set {ruleSet.Version}"),
            ]);
        }

        var fired = definition.Criteria.Where(criterion => criterion.Fires(tpp, density, specs.InterconnectGBps)).ToList();
        if (fired.Count == 0)
        {
            return new ClassificationResult(ExportClassification.None, tpp, density, ruleSet.Version,
                [$"no threshold of rule set {ruleSet.Version} is met ({figures})"]);
        }

        var classification = fired[0].Classification;
        var reasons = fired.Select(criterion => $"{Describe(criterion)} ({figures})").ToList();
        return new ClassificationResult(classification, tpp, density, ruleSet.Version, reasons);
    }

    /// <summary>The rule set in force for a product at an instant: among those published, the one whose
    /// effective instant for the product is the latest not after <paramref name="at"/> (ties: the later published).</summary>
    public static RuleSet? InForceAt(IEnumerable<RuleSet> published, ProductSpecs specs, DateTimeOffset at) =>
        published
            .Where(ruleSet => ruleSet.EffectiveAtFor(specs) <= at)
            .OrderByDescending(ruleSet => ruleSet.EffectiveAtFor(specs))
            .ThenByDescending(ruleSet => ruleSet.Sequence)
            .FirstOrDefault();

    /// <summary>Classifies at an instant: under the rule set in force then, or "none" when no rule was in force.</summary>
    public static ClassificationResult ClassifyAt(IEnumerable<RuleSet> published, ProductSpecs specs, DateTimeOffset at)
    {
        var ruleSet = InForceAt(published, specs, at);
        if (ruleSet is not null)
        {
            return Classify(specs, ruleSet);
        }

        return new ClassificationResult(ExportClassification.None, specs.TotalProcessingPerformance, specs.PerformanceDensity, string.Empty,
            [Invariant($"no published rule set was in force at {at:yyyy-MM-ddTHH:mm:ss.FFFZ}")]);
    }

    /// <summary>A criterion in words: its own description, or its bounds.</summary>
    public static string Describe(ControlCriterion criterion)
    {
        if (!string.IsNullOrWhiteSpace(criterion.Description))
        {
            return criterion.Description;
        }

        var bounds = new List<string>();
        if (criterion.MinTpp is not null || criterion.MaxTpp is not null)
        {
            bounds.Add(Range("TPP", criterion.MinTpp, criterion.MaxTpp));
        }

        if (criterion.MinPerformanceDensity is not null || criterion.MaxPerformanceDensity is not null)
        {
            bounds.Add(Range("PD", criterion.MinPerformanceDensity, criterion.MaxPerformanceDensity));
        }

        if (criterion.MinInterconnectGBps is { } interconnect)
        {
            bounds.Add(Invariant($"interconnect ≥ {interconnect:0.##} GB/s"));
        }

        return $"{criterion.Classification}: {string.Join(" and ", bounds)}";
    }

    private static string Range(string name, double? min, double? max) => (min, max) switch
    {
        ({ } low, { } high) => Invariant($"{low:0.###} ≤ {name} < {high:0.###}"),
        ({ } low, null) => Invariant($"{name} ≥ {low:0.###}"),
        (null, { } high) => Invariant($"{name} < {high:0.###}"),
        _ => name,
    };
}
