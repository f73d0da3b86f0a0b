using System.Data.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Brokering.ServiceDefaults;

/// <summary>Each service owns one PostgreSQL database, reached through EF Core.</summary>
public static class DatabaseExtensions
{
    /// <summary>Per connection; a service runs a few dozen distinct statements on its hot paths.</summary>
    private const int MaxAutoPreparedStatements = 64;

    /// <summary>
    /// Registers <typeparamref name="TDbContext"/> on <c>ConnectionStrings:Database</c>, with a readiness check. The
    /// contexts are pooled: a scope takes a reset instance instead of building one (the services' contexts take
    /// nothing but their options, which is what pooling needs).
    /// </summary>
    public static WebApplicationBuilder AddServiceDatabase<TDbContext>(this WebApplicationBuilder builder)
        where TDbContext : DbContext
    {
        var connectionString = builder.Configuration.GetConnectionString("Database")
            ?? throw new InvalidOperationException("ConnectionStrings:Database is not configured.");
        builder.Services.AddDbContextPool<TDbContext>(options => options.UseServiceDatabase(connectionString));
        builder.Services.AddHealthChecks().AddNpgSql(connectionString, name: "database", tags: [ServiceDefaultsExtensions.ReadyTag]);
        return builder;
    }

    /// <summary>
    /// The provider options every Brokering DbContext uses (also at design time). No execution strategy is
    /// configured: EF's default one does not retry, and a retrying one set to zero retries would still buffer every
    /// result set. Failures the messaging library should retry are retried around the whole unit of work.
    /// </summary>
    public static DbContextOptionsBuilder UseServiceDatabase(this DbContextOptionsBuilder options, string connectionString) =>
        options.UseNpgsql(WithConnectionDefaults(connectionString))
            .UseSnakeCaseNamingConvention();

    /// <summary>
    /// Connection settings the services rely on, unless the configured string says otherwise:
    /// <list type="bullet">
    /// <item><c>No Reset On Close</c>: a pooled connection is handed out again without <c>DISCARD ALL</c> (a
    /// statement, counted as a transaction, before the first command of every checkout, and it would drop the
    /// prepared statements below). Safe because no service leaves session state on a pooled connection: locks are
    /// transaction-scoped (<c>pg_advisory_xact_lock</c>), nothing runs <c>SET</c> or <c>LISTEN</c>, and the one
    /// session-level advisory lock (migrations, below) is taken on an unpooled connection.</item>
    /// <item><c>Max Auto Prepare</c>: statements run often are prepared on the server once per connection, so
    /// PostgreSQL stops parsing and planning them on every call.</item>
    /// </list>
    /// </summary>
    public static string WithConnectionDefaults(string connectionString)
    {
        var configured = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        if (!configured.ContainsKey("No Reset On Close") && !configured.ContainsKey("NoResetOnClose"))
        {
            settings.NoResetOnClose = true;
        }

        if (!configured.ContainsKey("Max Auto Prepare") && !configured.ContainsKey("MaxAutoPrepare"))
        {
            settings.MaxAutoPrepare = MaxAutoPreparedStatements;
        }

        return settings.ConnectionString;
    }

    /// <summary>
    /// Applies pending migrations under a PostgreSQL advisory lock, so replicas starting together
    /// migrate once and the others wait, then find nothing to do. The lock lives in the maintenance
    /// database because the service database may not exist yet.
    /// </summary>
    public static async Task MigrateDatabaseAsync<TDbContext>(this WebApplication app, CancellationToken cancellationToken = default)
        where TDbContext : DbContext
    {
        var connectionString = app.Configuration.GetConnectionString("Database")
            ?? throw new InvalidOperationException("ConnectionStrings:Database is not configured.");
        var target = new NpgsqlConnectionStringBuilder(connectionString);
        var maintenance = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false };
        var lockKey = StableLockKey(target.Database ?? typeof(TDbContext).Name);

        await using var lockConnection = new NpgsqlConnection(maintenance.ConnectionString);
        await lockConnection.OpenAsync(cancellationToken);
        await using (var acquire = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", lockConnection))
        {
            acquire.Parameters.AddWithValue("key", lockKey);
            await acquire.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            await using var scope = app.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
            // Npgsql takes the history table as existing and reads it, catching "no such table"; EF logs that read as a
            // failed command, an Error, twice per context on every fresh database, which tells the operators of a healthy
            // first start that something broke. A missing table is made first, so the read finds it.
            await CreateMissingHistoryTableAsync(db, lockConnection, target.Database, cancellationToken);
            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            if (pending.Count > 0)
            {
                app.Logger.LogInformation("Applying {Count} migration(s) to {Database}: {Migrations}", pending.Count, target.Database, pending);
                await db.Database.MigrateAsync(cancellationToken);
            }
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", lockConnection);
            release.Parameters.AddWithValue("key", lockKey);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static async Task CreateMissingHistoryTableAsync(DbContext db, NpgsqlConnection maintenance, string? database, CancellationToken cancellationToken)
    {
        // A database not there yet is created by migrating, table and all.
        await using (var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = @name)", maintenance))
        {
            exists.Parameters.AddWithValue("name", database ?? string.Empty);
            if (await exists.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return;
            }
        }

        // Looked up first, so a service whose role may not create tables (migrated by a job) never asks to.
        var relational = db.GetService<IDbContextOptions>().Extensions.OfType<RelationalOptionsExtension>().Single();
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var missing = new NpgsqlCommand(
                "SELECT to_regclass(CASE WHEN @schema IS NULL THEN quote_ident(@table) ELSE quote_ident(@schema) || '.' || quote_ident(@table) END) IS NULL",
                connection);
            missing.Parameters.AddWithValue("table", relational.MigrationsHistoryTableName ?? HistoryRepository.DefaultTableName);
            missing.Parameters.Add(new NpgsqlParameter("schema", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)relational.MigrationsHistoryTableSchema ?? DBNull.Value });
            if (await missing.ExecuteScalarAsync(cancellationToken) is true)
            {
                await using var create = new NpgsqlCommand(db.GetService<IHistoryRepository>().GetCreateIfNotExistsScript(), connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>
    /// Applies migrations, then runs the service; with <c>--migrate-only</c> it stops after migrating,
    /// which is how the Kubernetes migration Job runs the same image before a rollout.
    /// </summary>
    /// <param name="app">The service.</param>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="prepare">Reference data to load after migrating (also run by the migration Job).</param>
    public static async Task RunServiceAsync<TDbContext>(this WebApplication app, string[] args, Func<WebApplication, Task>? prepare = null)
        where TDbContext : DbContext
    {
        await app.MigrateDatabaseAsync<TDbContext>();
        if (prepare is not null)
        {
            await prepare(app);
        }

        if (args.Contains("--migrate-only", StringComparer.Ordinal))
        {
            app.Logger.LogInformation("Migrations applied; --migrate-only given, so the service does not start.");
            return;
        }

        await app.RunAsync();
    }

    // string.GetHashCode is randomised per process; replicas must agree on the key.
    private static long StableLockKey(string name)
    {
        var hash = 1469598103934665603UL;
        foreach (var c in name)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return unchecked((long)hash);
    }
}
