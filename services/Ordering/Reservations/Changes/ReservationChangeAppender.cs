using Brokering.Messaging.Postgres;
using Brokering.Ordering.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;

namespace Brokering.Ordering.Reservations.Changes;

/// <summary>
/// Writes the changes a unit of work added (a saga step adds one per transition it makes, often four on a reservation's
/// first step) as one statement, ahead of the unit's other saves: EF would send an <c>INSERT … RETURNING</c> per change,
/// and the table's trigger would run its own look-up per row.
/// </summary>
/// <remarks>
/// The statement computes <c>transaction_order</c> itself, as the trigger does for any other insert (see
/// <see cref="ReservationChangeFeed"/>): the larger of the transaction's id and the reservation's latest committed
/// change's. Changes of one reservation written by one statement share that value and keep their order by
/// <c>position</c>, which the identity column assigns in the order the rows are produced (<c>ORDER BY</c> the order
/// they were added). The trigger only fires for rows that arrive without a <c>transaction_order</c>.
/// </remarks>
internal static class ReservationChangeAppender
{
    private const string Insert = """
        INSERT INTO reservation_changes (reservation_id, buyer_id, from_status, to_status, event, reason, at, transaction_order)
        SELECT k.reservation_id, k.buyer_id, k.from_status, k.to_status, k.event, k.reason, k.at,
               GREATEST(pg_current_xact_id(), COALESCE(
                   (SELECT c.transaction_order FROM reservation_changes c
                    WHERE c.reservation_id = k.reservation_id ORDER BY c.position DESC LIMIT 1),
                   '0'::xid8))
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
            WITH ORDINALITY AS k(reservation_id, buyer_id, from_status, to_status, event, reason, at, n)
        ORDER BY k.n
        """;

    /// <summary>Writes and stops tracking the changes added to <paramref name="db"/> since its last save; the count written.</summary>
    public static async Task<int> AppendAsync(OrderingDbContext db, CancellationToken cancellationToken)
    {
        var added = db.ChangeTracker.Entries<ReservationChange>().Where(entry => entry.State == EntityState.Added).ToList();
        if (added.Count == 0)
        {
            return 0;
        }

        var changes = added.Select(entry => entry.Entity).ToList();
        await using var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection())
        {
            Transaction = (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction(),
        };
        // One plan per connection, found by key (each reservation's latest change), then the unit of work's other
        // statements plan as they would have: costed anew for every unit's arrays, the insert was planned at every
        // saga step, at more cost than its run.
        KeyLookups.Begin(batch);
        var command = new NpgsqlBatchCommand(Insert);
        batch.BatchCommands.Add(command);
        KeyLookups.End(batch);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid, Value = changes.Select(c => c.ReservationId).ToArray() });
        command.Parameters.Add(Texts(changes.Select(c => c.BuyerId)));
        command.Parameters.Add(Texts(changes.Select(c => c.From)));
        command.Parameters.Add(Texts(changes.Select(c => c.To)));
        command.Parameters.Add(Texts(changes.Select(c => c.Event)));
        command.Parameters.Add(Texts(changes.Select(c => c.Reason)));
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, Value = changes.Select(c => c.At.ToUniversalTime()).ToArray() });
        await batch.ExecuteNonQueryAsync(cancellationToken);
        var written = command.RecordsAffected;

        // Written: EF must not insert them again (nor read back their positions, which nothing uses).
        foreach (var entry in added)
        {
            entry.State = EntityState.Detached;
        }

        return written;
    }

    private static NpgsqlParameter Texts(IEnumerable<string?> values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = values.ToArray() };
}
