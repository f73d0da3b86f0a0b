using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres;

/// <summary>Row locks for a service's own LINQ queries, by the statement EF generates once (<see cref="RowLockInterceptor"/>).</summary>
public static class RowLocks
{
    /// <summary>
    /// The query's rows locked <c>FOR UPDATE</c> until the transaction ends. <paramref name="dbContext"/> must carry the
    /// interceptor (a context registered with <c>AddPostgresOutbox</c> does): a query that only looked locked would let two
    /// transactions read the same rows, so without it this throws rather than read unlocked.
    /// </summary>
    public static IQueryable<T> ForUpdate<T>(this IQueryable<T> query, DbContext dbContext) =>
        RowLockInterceptor.IsRegistered(dbContext)
            ? query.TagWith(RowLockInterceptor.Tag)
            : throw new InvalidOperationException(
                $"{dbContext.GetType().Name} is not configured with {nameof(RowLockInterceptor)}: its rows cannot be locked by a LINQ query (register it with AddPostgresOutbox, or add {nameof(RowLockInterceptor)}.{nameof(RowLockInterceptor.Instance)} to its options).");
}
