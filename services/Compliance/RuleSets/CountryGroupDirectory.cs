namespace Brokering.Compliance.RuleSets;

/// <summary>Country-group membership, and the countries a <see cref="DestinationScope"/> names.</summary>
internal sealed class CountryGroupDirectory
{
    private readonly Dictionary<string, HashSet<string>> groups;

    public CountryGroupDirectory(IEnumerable<CountryGroup> groups) =>
        this.groups = groups.ToDictionary(
            group => group.Name,
            group => new HashSet<string>(group.Countries, StringComparer.OrdinalIgnoreCase),
            StringComparer.OrdinalIgnoreCase);

    /// <summary>Group names known.</summary>
    public IReadOnlyCollection<string> Names => groups.Keys;

    /// <summary>Whether a group of that name exists.</summary>
    public bool Knows(string group) => groups.ContainsKey(group);

    /// <summary>The groups a country belongs to, in name order.</summary>
    public IReadOnlyList<string> GroupsOf(string country) =>
        [.. groups.Where(group => group.Value.Contains(country)).Select(group => group.Key).Order(StringComparer.Ordinal)];

    /// <summary>Whether <paramref name="country"/> is in <paramref name="scope"/>; with the reason in words when it is.</summary>
    public bool Contains(DestinationScope scope, string country, out string why)
    {
        if (scope.Countries.Contains(country, StringComparer.OrdinalIgnoreCase))
        {
            why = $"{country} is named by the rule";
            return true;
        }

        var member = scope.CountryGroups.Where(group => InGroup(group, country)).ToList();
        var excluded = scope.ExcludedCountryGroups.Where(group => InGroup(group, country)).ToList();
        if (member.Count > 0 && excluded.Count == 0)
        {
            why = $"{country} is in {string.Join(", ", member)}";
            return true;
        }

        why = member.Count > 0
            ? $"{country} is in {string.Join(", ", member)} but also in {string.Join(", ", excluded)}, which the rule excludes"
            : $"{country} is not in {scope}";
        return false;
    }

    /// <summary>Every country <paramref name="scope"/> names.</summary>
    public IReadOnlySet<string> Resolve(DestinationScope scope)
    {
        var countries = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var group in scope.CountryGroups)
        {
            countries.UnionWith(Members(group));
        }

        foreach (var group in scope.ExcludedCountryGroups)
        {
            countries.ExceptWith(Members(group));
        }

        countries.UnionWith(scope.Countries);
        return countries;
    }

    private bool InGroup(string group, string country) => groups.TryGetValue(group, out var members) && members.Contains(country);

    private HashSet<string> Members(string group) => groups.TryGetValue(group, out var members) ? members : [];
}
