using Npgsql;
using NpgsqlTypes;

namespace Brokering.Messaging.Postgres;

/// <summary>Typed parameters for raw SQL (EF cannot infer a type for a null value).</summary>
static class SqlParameters
{
    public static object[] Of(params (object? Value, NpgsqlDbType Type)[] values) =>
        values.Select(object (x, i) => new NpgsqlParameter($"p{i}", x.Type) { Value = x.Value ?? DBNull.Value }).ToArray();
}
