using Brokering.Compliance.Classification;

namespace Brokering.Compliance.RuleSets;

/// <summary>
/// A published rule set: versioned, with the instant it takes effect. Rule sets are never changed
/// once published; a new regime is a new version. Publication order (<see cref="Sequence"/>) tells
/// which one screening applies: the most recently published.
/// </summary>
internal sealed class RuleSet
{
    /// <summary>Version, unique, e.g. "2023-10-17".</summary>
    public required string Version { get; init; }

    /// <summary>When the rule takes effect.</summary>
    public required DateTimeOffset EffectiveAt { get; init; }

    /// <summary>When it was published (announced) in this system.</summary>
    public required DateTimeOffset PublishedAt { get; init; }

    /// <summary>Who published it: the officer's token subject, <see cref="Infrastructure.Actor.Seed"/>, or null when published before actors were recorded.</summary>
    public string? PublishedBy { get; init; }

    /// <summary>Publication order, assigned by the database.</summary>
    public long Sequence { get; init; }

    /// <summary>What the rule is, for a person.</summary>
    public string? Description { get; init; }

    /// <summary>Where the rule comes from (regulation, notice).</summary>
    public string? Source { get; init; }

    /// <summary>The version this one copied its thresholds and scopes from, if any.</summary>
    public string? BasedOn { get; init; }

    /// <summary>Thresholds, exemptions, scopes and acceleration.</summary>
    public required RuleDefinition Definition { get; init; }

    /// <summary>The first instant the rule takes effect for any product: the accelerated instant when earlier.</summary>
    public DateTimeOffset EarliestEffect =>
        Definition.Accelerated is { } accelerated && accelerated.EffectiveAt < EffectiveAt ? accelerated.EffectiveAt : EffectiveAt;

    /// <summary>The instant the rule takes effect for a product: the accelerated instant when it applies, else <see cref="EffectiveAt"/>.</summary>
    public DateTimeOffset EffectiveAtFor(ProductSpecs specs) =>
        IsAcceleratedFor(specs) && Definition.Accelerated!.EffectiveAt < EffectiveAt ? Definition.Accelerated.EffectiveAt : EffectiveAt;

    /// <summary>Whether the accelerated effective instant covers the product.</summary>
    public bool IsAcceleratedFor(ProductSpecs specs) =>
        Definition.Accelerated is { } accelerated
        && (!accelerated.DatacenterOnly || specs.Datacenter)
        && specs.TotalProcessingPerformance >= accelerated.MinTpp;
}
