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

    public static PropertyBuilder<List<T>> HasJsonConversion<T>(this PropertyBuilder<List<T>> property)
    {
        property.HasConversion(
                value => JsonSerializer.Serialize(value, Options),
                json => JsonSerializer.Deserialize<List<T>>(json, Options) ?? new List<T>(),
                new ValueComparer<List<T>>(
                    (left, right) => JsonSerializer.Serialize(left, Options) == JsonSerializer.Serialize(right, Options),
                    value => JsonSerializer.Serialize(value, Options).GetHashCode(StringComparison.Ordinal),
                    value => JsonSerializer.Deserialize<List<T>>(JsonSerializer.Serialize(value, Options), Options)!))
            .HasColumnType("jsonb");
        return property;
    }
}
