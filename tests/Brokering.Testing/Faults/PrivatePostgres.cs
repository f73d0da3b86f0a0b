using System.Globalization;
using Npgsql;

namespace Brokering.Testing.Faults;

/// <summary>
/// A PostgreSQL 15 cluster of the test's own (initdb into a temporary directory, a free port on 127.0.0.1, TCP
/// only, user postgres / password postgres), which a test may crash with <c>pg_ctl -m immediate</c> and start
/// again on the same data. Commits stay durable (fsync and synchronous_commit at their defaults) because crash
/// tests depend on exactly that. Run as root, its programs run as user postgres through <c>runuser</c>, as in
/// <c>deploy/local/infra-up.sh</c>.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromMinutes(3);

    private readonly string dataRoot;

    private PrivatePostgres(string directory, int port)
    {
        dataRoot = directory;
        Port = port;
    }

    /// <summary>The TCP port on 127.0.0.1 the cluster listens on (the same after every restart).</summary>
    public int Port { get; }

    /// <summary>The server's log (crash recovery is reported there).</summary>
    public string LogFile => Path.Combine(dataRoot, "postgres.log");

    private string DataDirectory => Path.Combine(dataRoot, "data");

    /// <summary>Creates and starts a fresh cluster; returns once it accepts connections.</summary>
    public static async Task<PrivatePostgres> StartAsync(CancellationToken cancellationToken = default)
    {
        var directory = Directory.CreateTempSubdirectory("brokering-postgres-").FullName;
        var server = new PrivatePostgres(directory, FreePort.Next());
        try
        {
            await server.InitializeAsync();
            await server.StartAgainAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Makes and starts a streaming standby of <paramref name="primary"/> on a port of its own (<c>pg_basebackup -R</c>:
    /// a copy of the primary's data that replays its WAL as it comes and takes read-only sessions), then makes the
    /// primary's commits wait for it (<c>synchronous_standby_names = '*'</c>, set on the primary only, after the copy,
    /// so a promoted standby does not wait for a standby of its own). Returns once the standby accepts connections.
    /// </summary>
    public static async Task<PrivatePostgres> StartStandbyAsync(PrivatePostgres primary, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(primary);
        var directory = Directory.CreateTempSubdirectory("brokering-postgres-standby-").FullName;
        var standby = new PrivatePostgres(directory, FreePort.Next());
        try
        {
            if (OsCommand.IsRoot)
            {
                await OsCommand.RunAsync("chown", ["-R", "postgres:postgres", directory], ControlTimeout);
            }

            // initdb's pg_hba.conf already admits replication connections from 127.0.0.1 with a password.
            await OsCommand.RunAsPostgresAsync(
                Path.Combine(BinDirectory, "pg_basebackup"),
                ["-d", $"host=127.0.0.1 port={primary.Port.ToString(CultureInfo.InvariantCulture)} user=postgres password=postgres",
                    "-D", standby.DataDirectory, "-X", "stream", "-R", "--checkpoint=fast"],
                ControlTimeout);
            // The copy carries the primary's settings: only the port differs (the last setting in the file wins).
            var configuration = Path.Combine(standby.DataDirectory, "postgresql.conf");
            await File.AppendAllTextAsync(configuration, $"\nport = {standby.Port.ToString(CultureInfo.InvariantCulture)}\n", cancellationToken);
            if (OsCommand.IsRoot)
            {
                await OsCommand.RunAsync("chown", ["postgres:postgres", configuration], ControlTimeout);
            }

            await standby.StartAgainAsync(cancellationToken);

            await using var connection = new NpgsqlConnection(primary.ConnectionString());
            await connection.OpenAsync(cancellationToken);
            foreach (var sql in new[] { "ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()" })
            {
                await using var command = new NpgsqlCommand(sql, connection);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            return standby;
        }
        catch
        {
            await standby.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A superuser connection string (no database) naming every server in turn, for clients that must follow a
    /// failover: Npgsql tries the hosts in order and keeps only one that accepts writes. It remembers what it found
    /// each host to be for Host Recheck Seconds (10 by default): 1 here, as deploy/k8s/README.md says, so a promoted
    /// standby is taken for a primary within a second. With the default, every connection is refused with "No suitable
    /// host was found" for ten seconds after the failover: the services wait that out as an outage, but no reservation
    /// moves meanwhile.
    /// </summary>
    public static string FailoverConnectionString(params PrivatePostgres[] servers) =>
        $"Host={string.Join(',', servers.Select(server => $"127.0.0.1:{server.Port.ToString(CultureInfo.InvariantCulture)}"))};"
        + "Username=postgres;Password=postgres;Target Session Attributes=read-write;Host Recheck Seconds=1";

    /// <summary>Promotes this standby to a primary (<c>pg_ctl promote</c>); returns once it accepts writes.</summary>
    public async Task PromoteAsync(CancellationToken cancellationToken = default)
    {
        await PgCtlAsync("promote", "-w", "-t", "180");
        await Eventually.Until(async () =>
        {
            await using var connection = new NpgsqlConnection(ConnectionString());
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT pg_is_in_recovery()", connection);
            return !(bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        }, "the promoted standby to accept writes", ControlTimeout, TimeSpan.FromMilliseconds(200), cancellationToken: cancellationToken);
    }

    /// <summary>A superuser connection string to <paramref name="database"/> on this cluster.</summary>
    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Password = "postgres",
        Database = database,
    }.ConnectionString;

    /// <summary>
    /// Crashes the server the way a power cut looks to it: <c>pg_ctl stop -m immediate</c> ends every process
    /// without a checkpoint, so the next start replays the WAL. Pooled client connections are cleared.
    /// </summary>
    public async Task StopImmediateAsync()
    {
        await PgCtlAsync("stop", "-m", "immediate", "-w");
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Starts the stopped or crashed server on the same port and data; returns once it accepts connections.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        await PgCtlAsync("start", "-w", "-t", "180", "-l", LogFile);
        await WaitUntilAcceptingAsync(cancellationToken);
    }

    /// <summary>Stops the server (fast shutdown) and deletes the cluster.</summary>
    public async ValueTask DisposeAsync()
    {
        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            try
            {
                await PgCtlAsync("stop", "-m", "fast", "-w");
            }
            catch (InvalidOperationException)
            {
                await PgCtlAsync("stop", "-m", "immediate", "-w");
            }
        }

        NpgsqlConnection.ClearAllPools();
        Directory.Delete(dataRoot, recursive: true);
    }

    private async Task InitializeAsync()
    {
        var passwordFile = Path.Combine(dataRoot, "password");
        await File.WriteAllTextAsync(passwordFile, "postgres\n");
        if (OsCommand.IsRoot)
        {
            // The temporary directory is root's and private: user postgres must own it to create the cluster.
            await OsCommand.RunAsync("chown", ["-R", "postgres:postgres", dataRoot], ControlTimeout);
        }

        await OsCommand.RunAsPostgresAsync(
            Path.Combine(BinDirectory, "initdb"),
            ["-D", DataDirectory, "-U", "postgres", $"--pwfile={passwordFile}", "-E", "UTF8", "--locale=C.UTF-8",
                "--auth-local=peer", "--auth-host=scram-sha-256", "--no-instructions"],
            ControlTimeout);
        File.Delete(passwordFile);

        // TCP only (socket paths have a length limit and /var/run/postgresql may not exist); small memory so
        // several private clusters fit beside the shared one. fsync stays on: crash tests rely on durable commits.
        await File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), $"""

            listen_addresses = '127.0.0.1'
            port = {Port.ToString(CultureInfo.InvariantCulture)}
            unix_socket_directories = ''
            max_connections = 200
            shared_buffers = 32MB
            logging_collector = off

            """);
        if (OsCommand.IsRoot)
        {
            await OsCommand.RunAsync("chown", ["postgres:postgres", Path.Combine(DataDirectory, "postgresql.conf")], ControlTimeout);
        }
    }

    private Task<string> PgCtlAsync(params string[] arguments) =>
        OsCommand.RunAsPostgresAsync(
            Path.Combine(BinDirectory, "pg_ctl"), new[] { "-D", DataDirectory }.Concat(arguments), ControlTimeout);

    /// <summary>pg_ctl -w already waits for the server; a real query proves password login and recovery are done.</summary>
    private Task WaitUntilAcceptingAsync(CancellationToken cancellationToken) =>
        Eventually.Succeeds(async () =>
        {
            await using var connection = new NpgsqlConnection(ConnectionString());
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(cancellationToken);
        }, e => e is NpgsqlException, ControlTimeout, TimeSpan.FromMilliseconds(500), cancellationToken: cancellationToken);
}
