using Brokering.Compliance.Classification;

namespace Brokering.Compliance.Screening;

/// <summary>The outcome of screening a line or a whole reservation.</summary>
internal enum Verdict
{
    /// <summary>May proceed (until the cutoff, if one is given).</summary>
    Approved,

    /// <summary>May not proceed.</summary>
    Denied,

    /// <summary>Needs an export licence that is not on file.</summary>
    LicenceRequired,

    /// <summary>
    /// A whole reservation only: a party resembles a list entry with a score in the review band and nothing denies, so
    /// the decision waits for a compliance officer (<see cref="Reviews.ReviewDesk"/>); nothing may proceed on it.
    /// </summary>
    PotentialMatch,
}

/// <summary>A party named in a reservation.</summary>
/// <param name="Name">Legal name as given.</param>
/// <param name="Country">ISO 3166-1 alpha-2 country (for a buyer's parent: of its headquarters).</param>
internal sealed record ScreeningParty(string? Name, string? Country);

/// <summary>A line to screen.</summary>
internal sealed record ScreeningLineInput(string? Sku, long Quantity);

/// <summary>
/// What screening is asked to decide: a reservation as the buyer submitted it. <c>DecideBy</c>: when the caller stops
/// waiting for a decision, if it said (for the officers reviewing a potential match).
/// </summary>
internal sealed record ScreeningInput(
    string ReservationId,
    string? BuyerId,
    ScreeningParty? BuyerParent,
    ScreeningParty? EndUser,
    string? DestinationCountry,
    IReadOnlyList<ScreeningLineInput> Lines,
    DateTimeOffset? DecideBy = null);

/// <summary>The decision on one line, with what it rests on.</summary>
internal sealed record LineDecision(
    string Sku,
    long Quantity,
    Verdict Outcome,
    DateTimeOffset? Cutoff,
    string Classification,
    double? Tpp,
    double? PerformanceDensity,
    ProductSpecs? Specs,
    string? LicenceNumber,
    IReadOnlyList<string> Reasons);

/// <summary>
/// A party that resembles a list entry: a match (score at or above <paramref name="Threshold"/>), or with
/// <paramref name="Potential"/> a potential match (at or above <paramref name="ReviewThreshold"/>, below the threshold),
/// which an officer reviews instead of it denying.
/// </summary>
internal sealed record PartyMatchEvidence(
    string Role,
    string QueriedName,
    Guid EntryId,
    string EntryName,
    string MatchedName,
    double Score,
    double Threshold,
    string List,
    bool Cleared,
    string? ClearanceReason,
    Guid? ClearanceId,
    bool MixesScripts = false,
    bool Potential = false,
    double? ReviewThreshold = null);

/// <summary>The rule set a decision applied.</summary>
internal sealed record RuleSetEvidence(string Version, DateTimeOffset EffectiveAt, DateTimeOffset? AcceleratedEffectiveAt, DateTimeOffset PublishedAt, long Sequence);

/// <summary>The restricted-party list a decision applied.</summary>
internal sealed record ListEvidence(
    string Version, DateTimeOffset RefreshedAt, TimeSpan MaxAge, int Entries, double Threshold, double? ReviewThreshold = null);

/// <summary>Everything a screening decision rests on, stored with it forever.</summary>
internal sealed record DecisionEvidence(
    ScreeningInput Inputs,
    Verdict Outcome,
    IReadOnlyList<LineDecision> Lines,
    IReadOnlyList<PartyMatchEvidence> Matches,
    IReadOnlyList<string> Reasons,
    RuleSetEvidence? RuleSet,
    ListEvidence? List,
    DateTimeOffset DecidedAt,
    BuyerEvidence? Buyer = null);

/// <summary>The buyer registration a decision applied; absent when the buyer was not in the registry.</summary>
internal sealed record BuyerEvidence(
    Guid RegistrationId, string LegalName, string Country, string? UltimateParentName, string? UltimateParentHeadquartersCountry,
    string RecordedBy, DateTimeOffset RecordedAt);
