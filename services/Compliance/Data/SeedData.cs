using System.Text.Json;
using Brokering.Compliance.Catalogue;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.RuleSets;

namespace Brokering.Compliance.Data;

/// <summary>
/// The reference data shipped inside the assembly (Data/Seed/*.json): the catalogue with its sources,
/// the historical rule sets, the country groups and the demo restricted-party list.
/// </summary>
internal sealed class SeedData
{
    public required IReadOnlyList<Product> Products { get; init; }

    public required IReadOnlyList<RuleSet> RuleSets { get; init; }

    public required IReadOnlyList<CountryGroup> CountryGroups { get; init; }

    public required string ListSource { get; init; }

    /// <summary>The demo entries; <see cref="RestrictedPartyEntry.AddedAt"/> and version are set when seeded.</summary>
    public required IReadOnlyList<RestrictedPartyEntryFile> Entries { get; init; }

    /// <summary>Reads the seed files (fresh objects on every call, so no two contexts share an entity).</summary>
    public static SeedData Load()
    {
        var products = Read<ProductsFile>("products.json");
        var ruleSets = Read<RuleSetsFile>("rule-sets.json");
        var groups = Read<CountryGroupsFile>("country-groups.json");
        var parties = Read<RestrictedPartiesFile>("restricted-parties.json");
        return new SeedData
        {
            Products = [.. products.Products.Select(product => product.ToProduct(products.BitLengths))],
            RuleSets = [.. ruleSets.RuleSets.Select((ruleSet, index) => ruleSet.ToRuleSet(index + 1))],
            CountryGroups = [.. groups.Groups.Select(group => new CountryGroup { Name = group.Name, Description = group.Description, Countries = [.. group.Countries] })],
            ListSource = parties.Source,
            Entries = parties.Entries,
        };
    }

    private static T Read<T>(string file)
    {
        using var stream = typeof(SeedData).Assembly.GetManifestResourceStream($"Brokering.Compliance.Seed.{file}")
            ?? throw new InvalidOperationException($"Seed file {file} is not embedded in the assembly.");
        return JsonSerializer.Deserialize<T>(stream, ComplianceJson.Options)
            ?? throw new InvalidOperationException($"Seed file {file} is empty.");
    }

    private sealed record ProductsFile(IReadOnlyDictionary<string, int> BitLengths, IReadOnlyList<ProductFile> Products);

    private sealed record ProductFile(
        string Sku, string Name, string Vendor, IReadOnlyDictionary<string, double> DenseTeraOps, double DieAreaMm2,
        double InterconnectGBps, bool Datacenter, string Source, string? Notes)
    {
        public Product ToProduct(IReadOnlyDictionary<string, int> bitLengths) => new()
        {
            Sku = Sku,
            Name = Name,
            Vendor = Vendor,
            DenseTeraOpsByFormat = new Dictionary<string, double>(DenseTeraOps),
            DenseTeraOpsByBitLength = DenseTeraOps
                .GroupBy(format => bitLengths.TryGetValue(format.Key, out var bits)
                    ? bits
                    : throw new InvalidOperationException($"{Sku}: format {format.Key} has no bit length in products.json."))
                .ToDictionary(width => width.Key, width => width.Max(format => format.Value)),
            DieAreaMm2 = DieAreaMm2,
            InterconnectGBps = InterconnectGBps,
            Datacenter = Datacenter,
            Source = Source,
            Notes = Notes,
        };
    }

    private sealed record RuleSetsFile(IReadOnlyList<RuleSetFile> RuleSets);

    private sealed record RuleSetFile(
        string Version, string Description, string Source, DateTimeOffset EffectiveAt, DateTimeOffset PublishedAt,
        IReadOnlyList<ControlCriterion> Criteria, double? NonDatacenterExemptBelowTpp, DestinationScope Destinations,
        DestinationScope? ParentHeadquarters, AcceleratedEffect? Accelerated)
    {
        public RuleSet ToRuleSet(long sequence) => new()
        {
            Version = Version,
            Description = Description,
            Source = Source,
            EffectiveAt = EffectiveAt.ToUniversalTime(),
            PublishedAt = PublishedAt.ToUniversalTime(),
            Sequence = sequence,
            Definition = new RuleDefinition(Criteria, NonDatacenterExemptBelowTpp, Destinations, ParentHeadquarters, Accelerated),
        };
    }

    private sealed record CountryGroupsFile(IReadOnlyList<CountryGroupFile> Groups);

    private sealed record CountryGroupFile(string Name, string? Description, IReadOnlyList<string> Countries);

    private sealed record RestrictedPartiesFile(string Source, IReadOnlyList<RestrictedPartyEntryFile> Entries);
}

/// <summary>A demo list entry as the seed file gives it.</summary>
internal sealed record RestrictedPartyEntryFile(
    Guid Id, string Name, IReadOnlyList<string> Aliases, IReadOnlyList<string> Addresses, string Country, string List,
    DateOnly ListedOn, string? Citation)
{
    public RestrictedPartyEntry ToEntry(DateTimeOffset addedAt, long listVersion) => new()
    {
        Id = Id,
        Name = Name,
        Aliases = [.. Aliases],
        Addresses = [.. Addresses],
        Country = Country,
        List = List,
        ListedOn = ListedOn,
        Citation = Citation,
        AddedAt = addedAt,
        AddedInListVersion = listVersion,
        AddedBy = Infrastructure.Actor.Seed,
    };
}
