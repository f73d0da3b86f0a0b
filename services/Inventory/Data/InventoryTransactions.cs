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
/// Runs units of work in their own DI scope and transaction, retrying the whole unit when
/// PostgreSQL aborts it as a deadlock victim or a serialization failure (nothing of it was kept).
/// </summary>
internal sealed class InventoryTransactions(IServiceScopeFactory scopes, TimeProvider time, ILogger<InventoryTransactions> logger)
{
    private const int MaxAttempts = 6;

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

    private static bool IsRetryable(Exception exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure } => true,
        DbUpdateException { InnerException: { } inner } => IsRetryable(inner),
        InvalidOperationException { InnerException: { } inner } => IsRetryable(inner),
        _ => false,
    };
}
