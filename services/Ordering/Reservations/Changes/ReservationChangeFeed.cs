using System.Globalization;
using System.Text.Json.Serialization;
using Brokering.Ordering.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Brokering.Ordering.Reservations.Changes;

/// <summary>A change as its buyer reads it; <see cref="Cursor"/> resumes the feed just after it.</summary>
public sealed record ChangeView(string Cursor, Guid ReservationId, string From, string To, string Event, string? Reason, DateTimeOffset At);

/// <summary>One page of the feed; <see cref="Next"/> is where to read on from (the cursor given, when the page is empty).</summary>
public sealed record ChangePage(IReadOnlyList<ChangeView> Changes, [property: JsonIgnore] ChangeCursor NextCursor)
{
    public string Next => NextCursor.ToString();
}

/// <summary>
/// A buyer's reservation status changes, in one order that never changes and never grows behind a reader: a reader
/// that resumes from a cursor misses nothing and sees nothing twice. Only the caller's own changes are read.
/// </summary>
/// <remarks>
/// <para>
/// Ordering by a sequence alone would skip changes: a transaction can take position 7, another position 8 and commit
/// first, and a reader that saw 8 would resume after it and never see 7. So the feed is ordered by
/// (<c>transaction_order</c>, <c>position</c>), where <c>transaction_order</c> is an xid8 no smaller than the writing
/// transaction's own id, and a reader is only shown rows whose <c>transaction_order</c> lies below
/// <c>pg_snapshot_xmin(pg_current_snapshot())</c>, the oldest transaction id still running. Every transaction below
/// that horizon has ended, and any transaction that has not yet written has, or will get, an id at or above it, so
/// no row can ever appear below a horizon once a reader has seen it: the part of the feed a reader is shown is final.
/// </para>
/// <para>
/// A transaction id is assigned at a transaction's first write, which for a saga step is its inbox row, before the
/// saga row is locked; so two steps of one reservation could hold their ids in the opposite order to the one they
/// commit in. The insert (<see cref="ReservationChangeAppender"/>, or the table's trigger for any other writer) therefore takes the larger of the transaction's id and the reservation's previous
/// <c>transaction_order</c> (committed before this step could lock the saga row), which keeps each reservation's
/// changes in the order they happened without giving up the horizon argument (the value is never below the writer's
/// own id).
/// </para>
/// <para>
/// The price: the feed lags behind the oldest write transaction in flight on the whole PostgreSQL server, normally
/// milliseconds. A transaction left open (or an idle-in-transaction session) holds the feed back until it ends;
/// <c>idle_in_transaction_session_timeout</c> bounds that.
/// </para>
/// </remarks>
public sealed class ReservationChangeFeed(OrderingDbContext db)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    private const string Query = """
        SELECT c.transaction_order::text, c.position, c.reservation_id, c.from_status, c.to_status, c.event, c.reason, c.at
        FROM reservation_changes c
        WHERE c.buyer_id = @buyer
          AND (c.transaction_order, c.position) > (CAST(@order AS xid8), @position)
          AND c.transaction_order < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY c.transaction_order, c.position
        LIMIT @limit
        """;

    // Whether a final change of the buyer lies at or after the cursor: the feed's end is its last final change, and a
    // cursor past it was never handed out (only the start and changes' own cursors are). Run before the page, in the
    // same round trip; the horizon only moves on, so a cursor within the feed here is within it for the page too.
    private const string WithinQuery = """
        SELECT EXISTS (
            SELECT 1 FROM reservation_changes c
            WHERE c.buyer_id = @buyer
              AND (c.transaction_order, c.position) >= (CAST(@order AS xid8), @position)
              AND c.transaction_order < pg_snapshot_xmin(pg_current_snapshot()));

        """;

    /// <summary>Up to <paramref name="limit"/> of the buyer's changes after <paramref name="after"/>, a cursor the service holds (a subscription's, a stream's own).</summary>
    public async Task<ChangePage> ReadAsync(string buyerId, ChangeCursor after, int limit, CancellationToken cancellationToken) =>
        (await ReadAsync(buyerId, after, limit, checkAfter: false, cancellationToken))!;

    /// <summary>
    /// As <see cref="ReadAsync(string, ChangeCursor, int, CancellationToken)"/> for a cursor a caller sent: null when it
    /// lies past the end of the buyer's feed. Such a cursor was never handed out, and reading after it would answer an
    /// empty page, and its own <c>next</c>, for every change still to come: the reader would skip them all, silently.
    /// </summary>
    public Task<ChangePage?> ReadFromCallerAsync(string buyerId, ChangeCursor after, int limit, CancellationToken cancellationToken) =>
        ReadAsync(buyerId, after, limit, checkAfter: after != ChangeCursor.Start, cancellationToken);

    private async Task<ChangePage?> ReadAsync(string buyerId, ChangeCursor after, int limit, bool checkAfter, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxLimit);

        var changes = new List<ChangeView>(Math.Min(limit, DefaultLimit));
        var next = after;
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand(checkAfter ? WithinQuery + Query : Query, (NpgsqlConnection)db.Database.GetDbConnection());
            command.Parameters.AddWithValue("buyer", buyerId);
            command.Parameters.AddWithValue("order", after.TransactionOrder.ToString(CultureInfo.InvariantCulture));
            command.Parameters.AddWithValue("position", after.Position);
            command.Parameters.AddWithValue("limit", limit);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (checkAfter)
            {
                if (!await reader.ReadAsync(cancellationToken) || !reader.GetBoolean(0))
                {
                    return null;
                }

                await reader.NextResultAsync(cancellationToken);
            }

            while (await reader.ReadAsync(cancellationToken))
            {
                next = new ChangeCursor(ulong.Parse(reader.GetString(0), CultureInfo.InvariantCulture), reader.GetInt64(1));
                changes.Add(new ChangeView(
                    next.ToString(),
                    reader.GetGuid(2),
                    reader.GetString(3),
                    reader.GetString(4),
                    reader.GetString(5),
                    reader.IsDBNull(6) ? null : reader.GetString(6),
                    reader.GetFieldValue<DateTimeOffset>(7)));
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }

        return new ChangePage(changes, next);
    }
}
