namespace Brokering.Contracts.Compliance;

/// <summary>
/// A new rule set moved the cutoff for some products and destinations. In-flight
/// reservations in scope re-evaluate at once.
/// </summary>
/// <param name="RuleSetVersion">The rule set now in force.</param>
/// <param name="Skus">Products affected.</param>
/// <param name="DestinationCountries">ISO 3166-1 alpha-2 destinations affected.</param>
/// <param name="NewCutoff">The cutoff now in force for them.</param>
/// <param name="At">When the rule set was published.</param>
public sealed record CutoffChanged(string RuleSetVersion, IReadOnlyList<string> Skus, IReadOnlyList<string> DestinationCountries, DateTimeOffset NewCutoff, DateTimeOffset At);

/// <summary>A party was added to a restricted-party list.</summary>
/// <param name="EntryId">List entry id.</param>
/// <param name="Name">Listed name.</param>
/// <param name="Aliases">Other names of the party.</param>
/// <param name="Country">ISO 3166-1 alpha-2 country.</param>
/// <param name="ListVersion">The list version that includes it.</param>
/// <param name="At">When.</param>
public sealed record PartyListed(Guid EntryId, string Name, IReadOnlyList<string> Aliases, string Country, string ListVersion, DateTimeOffset At);
