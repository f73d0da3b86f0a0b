using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Brokering.Ordering.Data;

/// <summary>
/// Stores a small list as a jsonb column: a reservation's lines, allocations and history are
/// always read and written with their reservation, and a person can still query them in SQL.
/// </summary>
internal static class JsonColumn
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Maps the list as jsonb. Its elements must be immutable records (value equality, no mutable members): change
    /// tracking then compares element by element and snapshots by copying the list, instead of serialising the whole
    /// list to compare it and round-tripping it through JSON for every snapshot, which every saga load and save paid.
    /// </summary>
    public static PropertyBuilder<List<T>> HasJsonConversion<T>(this PropertyBuilder<List<T>> property)
        where T : IEquatable<T>
    {
        property.HasConversion(
                value => JsonSerializer.Serialize(value, Options),
                json => JsonSerializer.Deserialize<List<T>>(json, Options) ?? new List<T>(),
                new ValueComparer<List<T>>(
                    (left, right) => left == null ? right == null : right != null && left.SequenceEqual(right),
                    value => HashCode.Combine(value.Count, value.Count == 0 ? 0 : value[value.Count - 1].GetHashCode()),
                    value => new List<T>(value)))
            .HasColumnType("jsonb");
        return property;
    }
}
