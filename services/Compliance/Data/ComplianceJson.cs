using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Brokering.Compliance.Data;

/// <summary>How the service writes JSON into jsonb columns and reads its seed files.</summary>
internal static class ComplianceJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>
    /// Stores an immutable record (read-only collections all the way down, never changed in place: a change assigns a
    /// new value) as jsonb. Change tracking keeps the value itself as its snapshot and compares by reference first, by
    /// JSON only when the reference was replaced: a screening decision is tracked once per screening, and the deep copy
    /// through JSON for every snapshot (when added, again when saved) and the two serialisations for every comparison
    /// cost more than writing the column.
    /// </summary>
    public static PropertyBuilder<T> HasRecordJsonConversion<T>(this PropertyBuilder<T> property)
        where T : class =>
        property.HasJsonColumn(new ValueComparer<T>(
            (left, right) => ReferenceEquals(left, right)
                || (left != null && right != null && JsonSerializer.Serialize(left, Options) == JsonSerializer.Serialize(right, Options)),
            value => JsonSerializer.Serialize(value, Options).GetHashCode(StringComparison.Ordinal),
            value => value));

    /// <summary>Stores the property as jsonb, compared by its JSON and snapshot as a copy: for values of mutable types.</summary>
    public static PropertyBuilder<T> HasJsonConversion<T>(this PropertyBuilder<T> property)
        where T : class =>
        property.HasJsonColumn(new ValueComparer<T>(
            (left, right) => JsonSerializer.Serialize(left, Options) == JsonSerializer.Serialize(right, Options),
            value => JsonSerializer.Serialize(value, Options).GetHashCode(StringComparison.Ordinal),
            value => JsonSerializer.Deserialize<T>(JsonSerializer.Serialize(value, Options), Options)!));

    private static PropertyBuilder<T> HasJsonColumn<T>(this PropertyBuilder<T> property, ValueComparer<T> comparer)
        where T : class =>
        property
            .HasConversion(value => JsonSerializer.Serialize(value, Options), json => JsonSerializer.Deserialize<T>(json, Options)!, comparer)
            .HasColumnType("jsonb");
}
