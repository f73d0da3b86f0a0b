using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Loads saga rows with <c>SELECT … FOR UPDATE</c> (EF <c>FromSql</c> on the mapped table), inside the caller's transaction.
/// When the row does not exist yet, a transaction-scoped advisory lock on (table, correlation id) is taken and the row
/// is looked up again, so two first events for one instance are serialised: the second sees the first's committed row
/// and applies its event to it instead of inserting a duplicate.
/// </summary>
sealed class SagaRowLocker<TSaga>
    where TSaga : class, ISaga
{
    readonly Func<IQueryable<TSaga>, IQueryable<TSaga>>? _customize;

    public SagaRowLocker(Func<IQueryable<TSaga>, IQueryable<TSaga>>? customize)
    {
        _customize = customize;
    }

    public async Task<TSaga?> LoadForUpdate(DbContext dbContext, Guid correlationId, CancellationToken cancellationToken)
    {
        var table = TableNames.For<TSaga>(dbContext);

        var instance = await Query(dbContext, table, correlationId, cancellationToken).ConfigureAwait(false);
        if (instance is not null)
            return instance;

        await dbContext.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock(hashtextextended({0}, 0))",
            [AdvisoryKey(table, correlationId)], cancellationToken).ConfigureAwait(false);

        // A new statement, a new snapshot: a row committed by whoever held the advisory lock is visible now.
        return await Query(dbContext, table, correlationId, cancellationToken).ConfigureAwait(false);
    }

    Task<TSaga?> Query(DbContext dbContext, MappedTable table, Guid correlationId, CancellationToken cancellationToken)
    {
        var query = dbContext.Set<TSaga>()
            .FromSqlRaw(LockStatement(table), correlationId);

        if (_customize is not null)
            query = _customize(query);

        return query.AsTracking().SingleOrDefaultAsync(cancellationToken);
    }

    static string LockStatement(MappedTable table) =>
        $"SELECT * FROM {table.Name} WHERE {table.Column(nameof(ISaga.CorrelationId))} = {{0}} FOR UPDATE";

    static string AdvisoryKey(MappedTable table, Guid correlationId) => table.Name + "/" + correlationId.ToString("N");
}
