using Brokering.Compliance.Catalogue;
using Brokering.Compliance.Data;
using Brokering.Compliance.Licences;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.RuleSets;
using Brokering.Compliance.Screening;

namespace Brokering.Compliance.Tests.Unit;

/// <summary>The shipped reference data, for pure tests: the same files the service seeds.</summary>
internal static class Reference
{
    public static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static SeedData Seed { get; } = SeedData.Load();

    public static RuleSet Rule2022 => Seed.RuleSets.Single(ruleSet => ruleSet.Version == "2022-10-07");

    public static RuleSet Rule2023 => Seed.RuleSets.Single(ruleSet => ruleSet.Version == "2023-10-17");

    public static CountryGroupDirectory Groups { get; } = new(Seed.CountryGroups);

    public static IReadOnlyDictionary<string, Product> Products { get; } =
        Seed.Products.ToDictionary(product => product.Sku, StringComparer.OrdinalIgnoreCase);

    public static IReadOnlyList<RestrictedPartyEntry> Entries { get; } =
        [.. Seed.Entries.Select(entry => entry.ToEntry(Now.AddDays(-1), 1))];

    public static RestrictedPartyMatcher Matcher { get; } = new(Entries, 0.85);

    /// <summary>The matcher as the service builds it by default: the deny threshold and, below it, the review band.</summary>
    public static RestrictedPartyMatcher ReviewingMatcher { get; } = new(Entries, 0.85, new ComplianceOptions().ReviewThreshold);

    public static RestrictedPartyEntry Entry(string name) => Entries.Single(entry => entry.Name.StartsWith(name, StringComparison.Ordinal));

    /// <summary>A rule set modelled on the 2023 rule whose effective instant is <paramref name="effectiveAt"/>, as the demo publishes.</summary>
    public static RuleSet Scenario(string version, DateTimeOffset effectiveAt, long sequence = 3) => new()
    {
        Version = version,
        EffectiveAt = effectiveAt,
        PublishedAt = Now,
        Sequence = sequence,
        BasedOn = Rule2023.Version,
        Definition = Rule2023.Definition with { Accelerated = null },
    };

    public static ScreeningContext Context(
        RuleSet? ruleSet = null,
        IReadOnlyList<PartyClearance>? clearances = null,
        LicenceLedger? licences = null,
        DateTimeOffset? listRefreshedAt = null,
        TimeSpan? listMaxAge = null,
        bool withoutRuleSet = false,
        RestrictedPartyMatcher? matcher = null,
        IReadOnlyList<PartyClearance>? reviewClearances = null) => new(
        Now,
        withoutRuleSet ? null : ruleSet ?? Rule2023,
        Groups,
        Products,
        new RestrictedPartyList { Id = RestrictedPartyList.CurrentId, Version = 1, RefreshedAt = listRefreshedAt ?? Now.AddHours(-1) },
        matcher ?? Matcher,
        listMaxAge ?? TimeSpan.FromDays(30),
        clearances ?? [],
        licences ?? LicenceLedger.Empty,
        ReviewClearances: reviewClearances,
        // The reference reservations' buyers are not registered: these tests are about the other rules
        // (UnregisteredBuyerTests covers the default, which refuses them).
        UnregisteredBuyers: UnregisteredBuyerPolicy.ScreenReservationOnly);

    public static ScreeningInput Reservation(
        string destination,
        string endUser = "Acme Cloud Ltd.",
        string endUserCountry = "SG",
        ScreeningParty? buyerParent = null,
        string buyerId = "buyer-1",
        string reservationId = "reservation-1",
        params (string Sku, long Quantity)[] lines) => new(
        reservationId,
        buyerId,
        buyerParent,
        new ScreeningParty(endUser, endUserCountry),
        destination,
        [.. lines.Select(line => new ScreeningLineInput(line.Sku, line.Quantity))]);
}
