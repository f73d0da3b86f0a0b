using System.Diagnostics;
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

    private readonly string _directory;

    private PrivatePostgres(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    /// <summary>The TCP port on 127.0.0.1 the cluster listens on (the same after every restart).</summary>
    public int Port { get; }

    /// <summary>The server's log (crash recovery is reported there).</summary>
    public string LogFile => Path.Combine(_directory, "postgres.log");

    private string DataDirectory => Path.Combine(_directory, "data");

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
        Directory.Delete(_directory, recursive: true);
    }

    private async Task InitializeAsync()
    {
        var passwordFile = Path.Combine(_directory, "password");
        await File.WriteAllTextAsync(passwordFile, "postgres\n");
        if (OsCommand.IsRoot)
        {
            // The temporary directory is root's and private: user postgres must own it to create the cluster.
            await OsCommand.RunAsync("chown", ["-R", "postgres:postgres", _directory], ControlTimeout);
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
    private async Task WaitUntilAcceptingAsync(CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString());
                await connection.OpenAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync(cancellationToken);
                return;
            }
            catch (NpgsqlException) when (stopwatch.Elapsed < ControlTimeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
        }
    }
}
