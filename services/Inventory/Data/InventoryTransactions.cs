using Brokering.Messaging.Postgres;
using Brokering.ServiceDefaults;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Brokering.Inventory.Data;

/// <summary>
/// One unit of work: the DbContext, its open transaction's connection for batched SQL, and the
/// outbox-backed publish endpoint. Rows written with SQL, entities saved by EF and events
/// published here commit together or not at all.
/// </summary>
internal sealed record UnitOfWork(InventoryDbContext Db, NpgsqlConnection Connection, IPublishEndpoint Publish, DateTimeOffset Now)
{
    public NpgsqlCommand Command(string sql)
    {
        var command = Connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }
}

/// <summary>
/// A unit of work on a bare connection, for hot paths that pipeline their own statements: no DbContext, no change
/// tracking. The work sends <c>BEGIN</c> with its first statements and <c>COMMIT</c> with its last ones (so the
/// commit shares a round trip with the final writes), and writes its outbox rows through <see cref="Outbox"/>.
/// A connection given back inside a transaction is rolled back by Npgsql.
/// </summary>
internal sealed record RawUnitOfWork(NpgsqlConnection Connection, PostgresOutboxRows Outbox, DateTimeOffset Now);

/// <summary>
/// Runs units of work in their own DI scope and transaction, retrying the whole unit when
/// PostgreSQL aborts it as a deadlock victim or a serialization failure (nothing of it was kept).
/// </summary>
internal sealed class InventoryTransactions(
    IServiceScopeFactory scopes,
    IConfiguration configuration,
    PostgresOutboxRowsFactory<InventoryDbContext> outboxRows,
    TimeProvider time,
    ILogger<InventoryTransactions> logger) : IAsyncDisposable
{
    private const int MaxAttempts = 6;

    // The hot paths run the same few statements all day: prepared once per physical connection, they are not
    // parsed and planned again on every call. A pool of their own, so EF's connections keep their settings; without
    // the reset statements on every checkout, as EF's (nothing here leaves session state behind: the feed's temporary
    // tables are dropped at commit, advisory locks are transaction-scoped).
    private readonly Lazy<NpgsqlDataSource> rawSource = new(() => new NpgsqlDataSourceBuilder(
        new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithConnectionDefaults(configuration.GetConnectionString("Database")
            ?? throw new InvalidOperationException("ConnectionStrings:Database is not configured.")))
        {
            MaxAutoPrepare = 32,
            AutoPrepareMinUsages = 2,
        }.ConnectionString).Build());

    /// <summary>
    /// Runs <paramref name="work"/> on a bare pooled connection (see <see cref="RawUnitOfWork"/>), retrying it whole
    /// when PostgreSQL aborts it as a deadlock victim or a serialization failure; wakes the outbox relay once committed.
    /// </summary>
    public async Task<T> RunRawAsync<T>(Func<RawUnitOfWork, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var outbox = outboxRows.Create();
            try
            {
                await using var connection = await rawSource.Value.OpenConnectionAsync(cancellationToken);
                var result = await work(new RawUnitOfWork(connection, outbox, time.GetUtcNow()), cancellationToken);
                outbox.Committed();
                return result;
            }
            catch (Exception exception) when (attempt < MaxAttempts && IsRetryable(exception))
            {
                logger.LogInformation("Transaction attempt {Attempt} aborted by PostgreSQL ({Reason}); retrying", attempt, exception.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 10 * attempt)), cancellationToken);
            }
        }
    }

    public async Task<T> RunAsync<T>(Func<UnitOfWork, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<InventoryDbContext>();
            var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
            try
            {
                await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
                var unit = new UnitOfWork(db, (NpgsqlConnection)db.Database.GetDbConnection(), publish, time.GetUtcNow());
                var result = await work(unit, cancellationToken);
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return result;
            }
            catch (Exception exception) when (attempt < MaxAttempts && IsRetryable(exception))
            {
                logger.LogInformation("Transaction attempt {Attempt} aborted by PostgreSQL ({Reason}); retrying", attempt, exception.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 10 * attempt)), cancellationToken);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (rawSource.IsValueCreated)
        {
            await rawSource.Value.DisposeAsync();
        }
    }

    private static bool IsRetryable(Exception exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure } => true,
        DbUpdateException { InnerException: { } inner } => IsRetryable(inner),
        InvalidOperationException { InnerException: { } inner } => IsRetryable(inner),
        _ => false,
    };
}
