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
/// <param name="GrpcCalls">gRPC calls the services answered, by method (<c>HoldsLedger/PlaceHolds</c>), from each service's own
/// request counter on <c>/metrics</c>; null when the services' metrics could not be read.</param>
public sealed record WorkCost(
    IReadOnlyDictionary<string, long> Transactions,
    IReadOnlyDictionary<string, long>? Statements,
    IReadOnlyDictionary<string, long>? Messages,
    IReadOnlyDictionary<string, long>? GrpcCalls = null)
{
    public long TotalTransactions => Transactions.Values.Sum();
    public long? TotalStatements => Statements?.Values.Sum();
    public long? TotalMessages => Messages?.Values.Sum();
    public long? TotalGrpcCalls => GrpcCalls?.Values.Sum();
}

/// <summary>Takes the counters behind <see cref="WorkCost"/> before and after a run.</summary>
public sealed class WorkCounters
{
    // The management API refreshes its message counts every five seconds (RabbitMQ's collect_statistics_interval).
    private static readonly TimeSpan BrokerStatisticsLag = TimeSpan.FromSeconds(5.5);

    private readonly InvariantDatabases databases;
    private readonly Uri? broker;
    private readonly Uri[] services;
    private Snapshot? before;

    private WorkCounters(InvariantDatabases databases, Uri? broker, Uri[] services)
    {
        this.databases = databases;
        this.broker = broker;
        this.services = services;
    }

    /// <summary>Counters for the target's databases, virtual host and services; null when its databases are not known.</summary>
    public static WorkCounters? For(LoadTarget target) =>
        target.Databases is { } databases ? new WorkCounters(databases, target.Broker, [target.Ordering, target.Inventory, target.Compliance]) : null;

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
            Difference(before.Messages, after.Messages),
            Difference(before.GrpcCalls, after.GrpcCalls));
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
        return new Snapshot(transactions, statements, messages, await GrpcCallsAsync(cancellationToken));
    }

    /// <summary>
    /// The gRPC calls each service has answered so far, by method: ASP.NET Core's request counter
    /// (<c>http_server_request_duration_seconds_count</c>) on the service's Prometheus scrape, for the routes of the
    /// <c>brokering.*</c> gRPC services. Null when a service's metrics cannot be read.
    /// </summary>
    private async Task<Dictionary<string, long>?> GrpcCallsAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var service in services)
        {
            string scrape;
            try
            {
                scrape = await http.GetStringAsync(new Uri(service, "/metrics"), cancellationToken);
            }
            catch (HttpRequestException)
            {
                return null;
            }

            foreach (var (method, count) in GrpcRequestCounts(scrape))
            {
                calls[method] = calls.GetValueOrDefault(method) + count;
            }
        }

        return calls;
    }

    /// <summary>Per gRPC method, the requests counted in one Prometheus scrape (summed over status codes).</summary>
    public static IEnumerable<(string Method, long Count)> GrpcRequestCounts(string scrape)
    {
        const string Counter = "http_server_request_duration_seconds_count{";
        const string Route = "http_route=\"/brokering.";
        foreach (var line in scrape.Split('\n'))
        {
            var at = line.StartsWith(Counter, StringComparison.Ordinal) ? line.IndexOf(Route, StringComparison.Ordinal) : -1;
            if (at < 0)
            {
                continue;
            }

            var start = at + Route.Length;
            var end = line.IndexOf('"', start);
            var path = line[start..end];
            // inventory.v1.HoldsLedger/PlaceHolds → HoldsLedger/PlaceHolds
            var slash = path.IndexOf('/', StringComparison.Ordinal);
            var method = slash < 0 ? path : path[(path.LastIndexOf('.', slash) + 1)..];
            if (long.TryParse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var count))
            {
                yield return (method, count);
            }
        }
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
        IReadOnlyDictionary<string, long> Transactions, IReadOnlyDictionary<string, long>? Statements, IReadOnlyDictionary<string, long>? Messages,
        IReadOnlyDictionary<string, long>? GrpcCalls);
}
