using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Brokering.Messaging.Postgres;

static class PostgresErrors
{
    public static bool IsUniqueViolation(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }
        || exception is DbUpdateException { InnerException: PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } };

    /// <summary>
    /// Whether the failure is PostgreSQL being out of reach for now rather than the message or the code: a connection
    /// refused or broken, the server shutting down, starting up or in recovery, a timeout. EF Core wraps these, so the
    /// whole chain of inner exceptions is looked at.
    /// <para>
    /// With several hosts (a primary and its standbys, <c>Target Session Attributes=read-write</c>) Npgsql also says "No
    /// suitable host was found" while every host it reaches, or remembers for <c>Host Recheck Seconds</c>, is not a
    /// writable primary: a failover under way. That exception carries no inner one and is not flagged transient, so it
    /// is recognised by its message; taken for a fault, it dead-lettered accepted reservations' first events mid-failover.
    /// </para>
    /// </summary>
    public static bool IsUnreachable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is NpgsqlException { IsTransient: true } or TimeoutException || IsNoSuitableHost(current))
                return true;
        }

        return false;
    }

    const string NoSuitableHost = "No suitable host was found.";

    static bool IsNoSuitableHost(Exception exception) =>
        exception is NpgsqlException { InnerException: null } npgsql and not PostgresException
        && string.Equals(npgsql.Message, NoSuitableHost, StringComparison.Ordinal);
}
