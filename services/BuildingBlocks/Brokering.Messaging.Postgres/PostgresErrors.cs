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
    /// </summary>
    public static bool IsUnreachable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is NpgsqlException { IsTransient: true } or TimeoutException)
                return true;
        }

        return false;
    }
}
