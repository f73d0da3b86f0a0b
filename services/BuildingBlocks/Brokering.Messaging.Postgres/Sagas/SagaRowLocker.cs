using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Loads saga rows with <c>SELECT … FOR UPDATE</c> (a LINQ query tagged for <see cref="RowLockInterceptor"/>, else EF
/// <c>FromSql</c> on the mapped table), inside the caller's transaction.
/// A row that does not exist yet is simply absent: two first events for one instance race to insert it, and the loser's
/// unique violation (<see cref="SagaInsertConflictException"/>) rolls its transaction back and retries it, when it finds
/// and locks the winner's row. The race is rare (a message's duplicates are already serialised by its inbox row), so it
/// is not worth the two extra round trips (an advisory lock and a second look) every new instance used to pay to avoid it.
/// </summary>
sealed class SagaRowLocker<TSaga>
    where TSaga : class, ISaga
{
    readonly Func<IQueryable<TSaga>, IQueryable<TSaga>>? _customize;

    public SagaRowLocker(Func<IQueryable<TSaga>, IQueryable<TSaga>>? customize)
    {
        _customize = customize;
    }

    public Task<TSaga?> LoadForUpdate(DbContext dbContext, Guid correlationId, CancellationToken cancellationToken)
    {
        // The common case, a saga row alone, by a LINQ query whose SQL EF keeps (RowLockInterceptor). A customisation may
        // join other tables, where FOR UPDATE on the whole statement could reach the nullable side of an outer join: the
        // row is then locked inside a FromSql subquery, as it is on a context without the interceptor.
        if (_customize is null && RowLockInterceptor.IsRegistered(dbContext))
        {
            return dbContext.Set<TSaga>()
                .TagWith(RowLockInterceptor.Tag)
                .Where(saga => EF.Property<Guid>(saga, nameof(ISaga.CorrelationId)) == correlationId)
                .AsTracking()
                .SingleOrDefaultAsync(cancellationToken);
        }

        var query = dbContext.Set<TSaga>()
            .FromSqlRaw(LockStatement(TableNames.For<TSaga>(dbContext)), correlationId);

        if (_customize is not null)
            query = _customize(query);

        return query.AsTracking().SingleOrDefaultAsync(cancellationToken);
    }

    static string LockStatement(MappedTable table) =>
        $"SELECT * FROM {table.Name} WHERE {table.Column(nameof(ISaga.CorrelationId))} = {{0}} FOR UPDATE";
}
