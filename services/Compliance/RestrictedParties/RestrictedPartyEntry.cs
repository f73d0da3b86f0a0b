namespace Brokering.Compliance.RestrictedParties;

/// <summary>A party on a restricted-party list (e.g. the Entity List).</summary>
internal sealed class RestrictedPartyEntry
{
    public required Guid Id { get; init; }

    /// <summary>Listed name.</summary>
    public required string Name { get; init; }

    /// <summary>Other names the party goes by (translations, transliterations, former names).</summary>
    public required List<string> Aliases { get; init; }

    /// <summary>Addresses as listed.</summary>
    public required List<string> Addresses { get; init; }

    /// <summary>ISO 3166-1 alpha-2 country.</summary>
    public required string Country { get; init; }

    /// <summary>Which list, e.g. "Entity List".</summary>
    public required string List { get; init; }

    /// <summary>When the party was listed.</summary>
    public required DateOnly ListedOn { get; init; }

    /// <summary>The publication that listed it.</summary>
    public string? Citation { get; init; }

    /// <summary>When it was added to this system's copy of the list.</summary>
    public required DateTimeOffset AddedAt { get; init; }

    /// <summary>The list version that first included it.</summary>
    public required long AddedInListVersion { get; init; }

    /// <summary>Who added it: the officer's token subject, <see cref="Infrastructure.Actor.Seed"/>, or null when added before actors were recorded.</summary>
    public string? AddedBy { get; init; }

    /// <summary>The name followed by the aliases.</summary>
    public IEnumerable<string> AllNames => Aliases.Prepend(Name);
}
