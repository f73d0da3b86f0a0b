namespace Brokering.Compliance.Buyers;

/// <summary>
/// What compliance officers have established about a buyer organisation: its legal name and country and its ultimate
/// parent with the parent's headquarters country. Registrations are never changed or deleted (a database trigger
/// refuses it): a correction is a new registration, and the latest one of a buyer is the one screening applies, so
/// the history of who said what and when stays for an audit.
/// </summary>
internal sealed class BuyerRegistration
{
    public required Guid Id { get; init; }

    /// <summary>The buyer's tenant id, as ordering knows it (the <c>tenant</c> claim of the buyer's tokens).</summary>
    public required string BuyerId { get; init; }

    public required string LegalName { get; init; }

    /// <summary>ISO 3166-1 alpha-2 country of the buyer organisation.</summary>
    public required string Country { get; init; }

    /// <summary>The ultimate parent's name; null when the buyer is its own ultimate parent.</summary>
    public string? ParentName { get; init; }

    /// <summary>ISO 3166-1 alpha-2 country where the ultimate parent is headquartered.</summary>
    public string? ParentHeadquartersCountry { get; init; }

    /// <summary>The officer's token subject.</summary>
    public required string RecordedBy { get; init; }

    public required DateTimeOffset RecordedAt { get; init; }
}
