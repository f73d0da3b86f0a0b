using Npgsql;

namespace Brokering.Testing;

/// <summary>
/// A digest of every row of every table of a database, per table, so a test can tell whether a request
/// changed anything and, when it did, which tables.
/// </summary>
public static class DatabaseFingerprint
{
    /// <summary>
    /// One md5 per base table (outside the system schemas) over its rows' text, sorted; tables named in
    /// <paramref name="excluded"/> ("schema.table") are left out.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> TakeAsync(
        string connectionString, IReadOnlyCollection<string> excluded, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("""
            SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
            FROM information_schema.tables
            WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 1
            """, connection))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var table = reader.GetString(0);
                if (!excluded.Contains(table))
                {
                    tables.Add(table);
                }
            }
        }

        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        if (tables.Count == 0)
        {
            return digests;
        }

        // One round trip for all tables; names come from the catalogue, quoted by PostgreSQL itself.
        var sql = string.Join(" UNION ALL ", tables.Select(table =>
            $"SELECT '{table.Replace("'", "''", StringComparison.Ordinal)}', COALESCE(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {table} t"));
        await using var command = new NpgsqlCommand(sql, connection);
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken))
        {
            digests[rows.GetString(0)] = rows.GetString(1);
        }

        return digests;
    }

    /// <summary>The tables whose digests differ between two fingerprints (or that appear in only one).</summary>
    public static IReadOnlyList<string> Changed(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> after) =>
        [.. before.Keys.Union(after.Keys)
            .Where(table => !before.TryGetValue(table, out var was) || !after.TryGetValue(table, out var now) || was != now)
            .Order(StringComparer.Ordinal)];
}
