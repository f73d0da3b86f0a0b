using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Brokering.Messaging.Postgres;

static class PostgresErrors
{
    public static bool IsUniqueViolation(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }
        || exception is DbUpdateException { InnerException: PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } };
}
