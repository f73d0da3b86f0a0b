using System.Text.Json.Serialization;

namespace Brokering.Compliance.RuleSets;

/// <summary>
/// What a rule set says, as data: the thresholds that make a product controlled, the products
/// exempted, the destinations and parent headquarters it restricts, and an optional earlier
/// effective instant for part of the products. Stored as JSON with the rule set, never changed.
/// </summary>
/// <param name="Criteria">Control criteria in precedence order: the first that fires gives the classification.</param>
/// <param name="NonDatacenterExemptBelowTpp">Products not designed or marketed for datacenters with TPP below this are outside the rule; null when the rule has no such exemption.</param>
/// <param name="Destinations">Destinations for which a controlled product needs a licence.</param>
/// <param name="ParentHeadquarters">Buyers whose ultimate parent is headquartered here need a licence whatever the destination; null when the rule has no such requirement.</param>
/// <param name="Accelerated">An earlier effective instant for some products; null when none.</param>
internal sealed record RuleDefinition(
    IReadOnlyList<ControlCriterion> Criteria,
    double? NonDatacenterExemptBelowTpp,
    DestinationScope Destinations,
    DestinationScope? ParentHeadquarters,
    AcceleratedEffect? Accelerated);

/// <summary>
/// One threshold of a rule: all given bounds must hold (minimums inclusive, maximums exclusive).
/// </summary>
/// <param name="Classification">"3A090.a" or "3A090.b".</param>
/// <param name="MinTpp">TPP ≥ this.</param>
/// <param name="MaxTpp">TPP &lt; this.</param>
/// <param name="MinPerformanceDensity">PD ≥ this.</param>
/// <param name="MaxPerformanceDensity">PD &lt; this.</param>
/// <param name="MinInterconnectGBps">Bidirectional transfer rate ≥ this.</param>
/// <param name="Description">The threshold in the rule's own words.</param>
internal sealed record ControlCriterion(
    string Classification,
    double? MinTpp = null,
    double? MaxTpp = null,
    double? MinPerformanceDensity = null,
    double? MaxPerformanceDensity = null,
    double? MinInterconnectGBps = null,
    string? Description = null)
{
    /// <summary>Whether the product's figures meet every bound.</summary>
    public bool Fires(double tpp, double performanceDensity, double interconnectGBps) =>
        (MinTpp is not { } minTpp || tpp >= minTpp)
        && (MaxTpp is not { } maxTpp || tpp < maxTpp)
        && (MinPerformanceDensity is not { } minPd || performanceDensity >= minPd)
        && (MaxPerformanceDensity is not { } maxPd || performanceDensity < maxPd)
        && (MinInterconnectGBps is not { } minInterconnect || interconnectGBps >= minInterconnect);

    /// <summary>True when the criterion has at least one bound (an empty one would catch everything).</summary>
    [JsonIgnore]
    public bool HasBounds =>
        MinTpp is not null || MaxTpp is not null || MinPerformanceDensity is not null
        || MaxPerformanceDensity is not null || MinInterconnectGBps is not null;
}

/// <summary>A set of countries named through country groups and explicit ISO codes.</summary>
/// <param name="CountryGroups">Groups whose members are in scope, e.g. "D:1".</param>
/// <param name="ExcludedCountryGroups">Members of these groups are taken out of the groups above, e.g. "A:5".</param>
/// <param name="Countries">ISO 3166-1 alpha-2 countries in scope whatever their groups, e.g. "MO".</param>
internal sealed record DestinationScope(
    IReadOnlyList<string> CountryGroups,
    IReadOnlyList<string> ExcludedCountryGroups,
    IReadOnlyList<string> Countries)
{
    /// <summary>True when the scope names nothing.</summary>
    [JsonIgnore]
    public bool IsEmpty => CountryGroups.Count == 0 && Countries.Count == 0;

    /// <summary>The scope in words, e.g. "D:1, D:4, D:5 less A:5, A:6; HK, MO".</summary>
    public override string ToString()
    {
        var groups = CountryGroups.Count == 0 ? string.Empty : string.Join(", ", CountryGroups);
        if (ExcludedCountryGroups.Count > 0 && groups.Length > 0)
        {
            groups += " less " + string.Join(", ", ExcludedCountryGroups);
        }

        var countries = string.Join(", ", Countries);
        return groups.Length == 0 ? countries : countries.Length == 0 ? groups : $"{groups}; {countries}";
    }
}

/// <summary>An earlier effective instant for the products it covers.</summary>
/// <param name="EffectiveAt">The earlier instant.</param>
/// <param name="DatacenterOnly">Only products designed or marketed for datacenters.</param>
/// <param name="MinTpp">Only products with TPP ≥ this.</param>
internal sealed record AcceleratedEffect(DateTimeOffset EffectiveAt, bool DatacenterOnly, double MinTpp);
