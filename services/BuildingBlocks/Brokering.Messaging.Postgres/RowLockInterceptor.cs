using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Lets a LINQ query lock the rows it reads: a query tagged <see cref="Tag"/> is sent with <c>FOR UPDATE</c> appended.
/// </summary>
/// <remarks>
/// <para>
/// <b>Why not <c>FromSql(… FOR UPDATE)</c>.</b> EF Core never caches the SQL of a <c>FromSql</c> query that has
/// parameters: each execution optimises the query and generates its SQL again, under a lock shared by every execution of
/// that query. The saga row and the inbox row are locked on every message consumed, so a busy replica's consumers queued
/// on that lock and spun for it (a sampled profile of ordering under load: 2 % of its managed CPU generating the same SQL
/// again, and a third of its threads' lock waits there). A LINQ query's SQL is generated once and kept in EF's command
/// cache; the tag leaves the query's shape, and so its cache entry, alone.
/// </para>
/// <para>
/// <b>Registered by the library</b> on the messaging <see cref="DbContext"/>
/// (<see cref="PostgresMessagingRegistrationExtensions"/>). A context built without it (see <see cref="IsRegistered"/>)
/// locks with <c>FromSql</c> as before: slower, never unlocked.
/// </para>
/// </remarks>
public sealed class RowLockInterceptor : DbCommandInterceptor
{
    /// <summary>The query tag (<c>TagWith</c>) of a query whose rows are to be locked.</summary>
    internal const string Tag = "brokering: rows locked FOR UPDATE";

    // EF writes a query's tags as comment lines before the statement.
    const string TagLine = "-- " + Tag;
    const string Clause = " FOR UPDATE";

    RowLockInterceptor()
    {
    }

    /// <summary>The one instance: a context's interceptors are compared by reference (<see cref="IsRegistered"/>).</summary>
    public static RowLockInterceptor Instance { get; } = new();

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Lock(command);
        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        Lock(command);
        return ValueTask.FromResult(result);
    }

    /// <summary>Whether <paramref name="dbContext"/>'s options carry the interceptor, so a tagged query really locks.</summary>
    internal static bool IsRegistered(DbContext dbContext) =>
        dbContext.GetService<IDbContextOptions>().FindExtension<CoreOptionsExtension>()?.Interceptors is { } interceptors
        && interceptors.Contains(Instance);

    // Each execution gets a fresh command with the cached text, so the clause is appended once per execution; a second
    // registration of the interceptor finds it there already.
    static void Lock(DbCommand command)
    {
        var text = command.CommandText;
        if (text.StartsWith(TagLine, StringComparison.Ordinal) && !text.EndsWith(Clause, StringComparison.Ordinal))
            command.CommandText = text + Clause;
    }
}
