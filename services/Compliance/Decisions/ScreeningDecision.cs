namespace Brokering.Compliance.Decisions;

/// <summary>
/// A screening decision with its evidence, kept forever and never changed (the table refuses
/// updates and deletes). A reservation screened twice has two decisions.
/// </summary>
internal sealed class ScreeningDecision
{
    public required Guid Id { get; init; }

    public required string ReservationId { get; init; }

    public required string BuyerId { get; init; }

    public required DateTimeOffset DecidedAt { get; init; }

    /// <summary>Approved, Denied, LicenceRequired or PotentialMatch (awaiting an officer's review).</summary>
    public required string Outcome { get; init; }

    /// <summary>The rule set applied; null when none was published.</summary>
    public string? RuleSetVersion { get; init; }

    /// <summary>The restricted-party list version applied.</summary>
    public string? ListVersion { get; init; }

    /// <summary>The earliest cutoff of all lines.</summary>
    public DateTimeOffset? EarliestCutoff { get; init; }

    /// <summary>Inputs, per-line findings, matches, and the reasons.</summary>
    public required Screening.DecisionEvidence Evidence { get; init; }
}
