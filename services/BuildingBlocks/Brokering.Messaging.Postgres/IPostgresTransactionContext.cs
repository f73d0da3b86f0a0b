using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Payload of a consume context whose database transaction is owned by the outbox filter: the saga repository and
/// the scheduler consumer join it instead of opening their own.
/// </summary>
public interface IPostgresTransactionContext
{
    /// <summary>The DbContext whose transaction is open.</summary>
    DbContext DbContext { get; }
}
