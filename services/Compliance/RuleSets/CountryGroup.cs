namespace Brokering.Compliance.RuleSets;

/// <summary>A named group of countries (EAR Supplement No. 1 to Part 740), reference data.</summary>
internal sealed class CountryGroup
{
    /// <summary>Group name, e.g. "D:5".</summary>
    public required string Name { get; init; }

    /// <summary>What the group is for.</summary>
    public string? Description { get; set; }

    /// <summary>ISO 3166-1 alpha-2 members.</summary>
    public required List<string> Countries { get; set; }
}
