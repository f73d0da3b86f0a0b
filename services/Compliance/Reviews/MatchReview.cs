namespace Brokering.Compliance.Reviews;

/// <summary>
/// A compliance officer's ruling on a potential-match decision, kept forever and never changed (the table refuses updates
/// and deletes): one per decision, so a second ruling on the same review is refused. The ruling is carried out as a new
/// screening decision (<see cref="RulingDecisionId"/>), filed in the same transaction.
/// </summary>
internal sealed class MatchReview
{
    /// <summary>The potential-match decision ruled on.</summary>
    public required Guid DecisionId { get; init; }

    public required string ReservationId { get; init; }

    /// <summary><see cref="ReviewRuling.Cleared"/> or <see cref="ReviewRuling.Confirmed"/>.</summary>
    public required string Ruling { get; init; }

    /// <summary>Why, in the officer's words.</summary>
    public required string Reason { get; init; }

    /// <summary>Who ruled: the officer's token subject.</summary>
    public required string RuledBy { get; init; }

    public required DateTimeOffset RuledAt { get; init; }

    /// <summary>The decision the ruling filed: what screening gives with the potential matches cleared, or a denial.</summary>
    public required Guid RulingDecisionId { get; init; }
}

/// <summary>What an officer may rule on a potential match.</summary>
internal static class ReviewRuling
{
    /// <summary>A false positive: the reservation is screened with the resemblance set aside.</summary>
    public const string Cleared = "Cleared";

    /// <summary>A true match: the reservation is denied.</summary>
    public const string Confirmed = "Confirmed";
}
