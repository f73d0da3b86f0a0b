namespace Brokering.Compliance.RestrictedParties;

/// <summary>
/// A compliance officer's ruling that a party name's resemblance to a list entry is a false positive.
/// Screening honours it for that party name (compared in canonical form) and, when given, only that entry.
/// </summary>
internal sealed class PartyClearance
{
    public required Guid Id { get; init; }

    /// <summary>The party name as the officer gave it.</summary>
    public required string PartyName { get; init; }

    /// <summary>The name in canonical form (see <see cref="PartyNameNormalizer.Canonical"/>).</summary>
    public required string CanonicalName { get; init; }

    /// <summary>Only matches against this entry are cleared; null clears matches against any entry.</summary>
    public Guid? EntryId { get; init; }

    /// <summary>Why the match is a false positive.</summary>
    public required string Reason { get; init; }

    /// <summary>Who cleared it: the officer's token subject.</summary>
    public required string ClearedBy { get; init; }

    public required DateTimeOffset ClearedAt { get; init; }

    /// <summary>Whether this clearance covers a match of <paramref name="canonicalName"/> against <paramref name="entryId"/>.</summary>
    public bool Covers(string canonicalName, Guid entryId) =>
        string.Equals(CanonicalName, canonicalName, StringComparison.Ordinal) && (EntryId is null || EntryId == entryId);
}
