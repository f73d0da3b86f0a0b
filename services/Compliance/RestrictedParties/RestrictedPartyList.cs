namespace Brokering.Compliance.RestrictedParties;

/// <summary>
/// The state of this system's copy of the restricted-party list: its version (bumped by every
/// change) and when it was last confirmed current against its source. A copy older than the
/// configured freshness makes screening fail closed.
/// </summary>
internal sealed class RestrictedPartyList
{
    /// <summary>The single row's id.</summary>
    public const string CurrentId = "consolidated";

    public required string Id { get; init; }

    /// <summary>Bumped by every change to the entries.</summary>
    public long Version { get; set; }

    /// <summary>When the copy was last confirmed current against its source.</summary>
    public DateTimeOffset RefreshedAt { get; set; }

    /// <summary>Where the entries come from.</summary>
    public string? Source { get; set; }

    /// <summary>Who last confirmed it current: the officer's token subject, or null for a seeded list or one refreshed before actors were recorded.</summary>
    public string? RefreshedBy { get; set; }

    /// <summary>The version as decisions and events report it.</summary>
    public string VersionLabel => FormatVersion(Version);

    public static string FormatVersion(long version) => $"v{version}";
}
