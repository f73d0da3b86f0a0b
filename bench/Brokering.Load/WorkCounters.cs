using Brokering.Invariants;
using Brokering.Testing;
using Npgsql;

namespace Brokering.Load;

/// <summary>
/// What a run cost in work the machine's limits are counted in, per accepted reservation: transactions and statements
/// per database (PostgreSQL's own counters, <c>pg_stat_database</c> and, when loaded, <c>pg_stat_statements</c>) and
/// messages published on the broker, by message type. Counted over the whole run, so they include the generator's
/// reads, the stock feed and the services' idle loops as well as the reservations' own work.
/// </summary>
/// <param name="Transactions">Committed transactions by database (ordering, inventory, compliance).</param>
/// <param name="Statements">Statements executed by database; null when <c>pg_stat_statements</c> is not loaded.</param>
/// <param name="Messages">Messages published into the virtual host's exchanges, by exchange (message type); null without a broker.</param>
public sealed record WorkCost(
    IReadOnlyDictionary<string, long> Transactions,
    IReadOnlyDictionary<string, long>? Statements,
    IReadOnlyDictionary<string, long>? Messages)
{
    public long TotalTransactions => Transactions.Values.Sum();
    public long? TotalStatements => Statements?.Values.Sum();
    public long? TotalMessages => Messages?.Values.Sum();
}

/// <summary>Takes the counters behind <see cref="WorkCost"/> before and after a run.</summary>
internal sealed class WorkCounters
{
    // The management API refreshes its message counts every five seconds (RabbitMQ's collect_statistics_interval).
    private static readonly TimeSpan BrokerStatisticsLag = TimeSpan.FromSeconds(5.5);

    private readonly InvariantDatabases databases;
    private readonly Uri? broker;
    private Snapshot? before;

    private WorkCounters(InvariantDatabases databases, Uri? broker)
    {
        this.databases = databases;
        this.broker = broker;
    }

    /// <summary>Counters for the target's databases and virtual host; null when its databases are not known.</summary>
    public static WorkCounters? For(LoadTarget target) => target.Databases is { } databases ? new WorkCounters(databases, target.Broker) : null;

    public async Task StartAsync(CancellationToken cancellationToken) => before = await TakeAsync(cancellationToken);

    public async Task<WorkCost?> StopAsync(CancellationToken cancellationToken)
    {
        if (before is null)
        {
            return null;
        }

        if (broker is not null)
        {
            await Task.Delay(BrokerStatisticsLag, cancellationToken);
        }

        var after = await TakeAsync(cancellationToken);
        return new WorkCost(
            Difference(before.Transactions, after.Transactions)!,
            Difference(before.Statements, after.Statements),
            Difference(before.Messages, after.Messages));
    }

    private static Dictionary<string, long>? Difference(IReadOnlyDictionary<string, long>? first, IReadOnlyDictionary<string, long>? last) =>
        first is null || last is null
            ? null
            : last.ToDictionary(pair => pair.Key, pair => pair.Value - first.GetValueOrDefault(pair.Key), StringComparer.Ordinal)
                .Where(pair => pair.Value > 0).ToDictionary(StringComparer.Ordinal);

    private async Task<Snapshot> TakeAsync(CancellationToken cancellationToken)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [new NpgsqlConnectionStringBuilder(databases.Ordering).Database!] = "ordering",
            [new NpgsqlConnectionStringBuilder(databases.Inventory).Database!] = "inventory",
            [new NpgsqlConnectionStringBuilder(databases.Compliance).Database!] = "compliance",
        };

        // The statistics cover every database; pg_stat_statements' view exists where its extension was created, which
        // infra-up does in the server's own database, not in each service's.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(databases.Ordering) { Database = "postgres" }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var transactions = await ByDatabaseAsync(connection, "SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY(@names)", names, cancellationToken);
        Dictionary<string, long>? statements = null;
        try
        {
            statements = await ByDatabaseAsync(connection,
                "SELECT d.datname, sum(s.calls)::bigint FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY(@names) GROUP BY d.datname",
                names, cancellationToken);
        }
        catch (PostgresException)
        {
            // Not loaded (shared_preload_libraries) or the extension not created: transactions only.
        }

        var messages = broker is null ? null : await TestInfrastructure.PublishedByExchangeAsync(broker, cancellationToken);
        return new Snapshot(transactions, statements, messages);
    }

    private static async Task<Dictionary<string, long>> ByDatabaseAsync(
        NpgsqlConnection connection, string sql, Dictionary<string, string> names, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("names", names.Keys.ToArray());
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[names[reader.GetString(0)]] = reader.GetInt64(1);
        }

        return counts;
    }

    private sealed record Snapshot(
        IReadOnlyDictionary<string, long> Transactions, IReadOnlyDictionary<string, long>? Statements, IReadOnlyDictionary<string, long>? Messages);
}
