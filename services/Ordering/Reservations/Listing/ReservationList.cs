using System.Text.Json;
using Brokering.Ordering.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace Brokering.Ordering.Reservations.Listing;

/// <summary>One page of the list; <see cref="Next"/> continues it, and is absent on the last page.</summary>
public sealed record ReservationPage(IReadOnlyList<ReservationView> Reservations, string? Next);

/// <summary>
/// A buyer's own reservations, newest first (submitted time, then id), a page at a time. Only the caller's are read:
/// another buyer's reservations do not exist for it, whatever the filters or cursor.
/// </summary>
/// <remarks>
/// The sort key never changes once a reservation is stored, and each page starts strictly after the last key of the
/// one before, so a reader who pages through sees every reservation that existed when it started exactly once, however
/// many arrive meanwhile. The status filter is the exception by nature: a reservation whose status changes while a
/// reader pages can enter or leave the filtered set. The status is the saga's (Submitted until it has a row), read in
/// the same statement as the filter, and shown as read a moment later.
/// </remarks>
public sealed class ReservationList(OrderingDbContext db)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<ReservationPage> ReadAsync(string buyerId, ReservationListQuery query, CancellationToken cancellationToken)
    {
        var sql = new System.Text.StringBuilder("""
            SELECT r.* FROM reservations r
            LEFT JOIN reservation_sagas s ON s.reservation_id = r.id
            WHERE r.buyer_id = @buyer
            """);
        var parameters = new List<NpgsqlParameter> { new("buyer", NpgsqlDbType.Varchar) { Value = buyerId } };
        void Where(string condition, string name, NpgsqlDbType type, object value)
        {
            sql.Append("\n  AND ").Append(condition);
            parameters.Add(new NpgsqlParameter(name, type) { Value = value });
        }

        if (query.Statuses.Count > 0)
        {
            Where($"COALESCE(s.current_state, '{ReservationView.SubmittedStatus}') = ANY(@statuses)", "statuses",
                NpgsqlDbType.Array | NpgsqlDbType.Varchar, query.Statuses.ToArray());
        }

        if (query.BuyerReference is { } reference)
        {
            Where("r.buyer_reference = @reference", "reference", NpgsqlDbType.Varchar, reference);
        }

        if (query.Sku is { } sku)
        {
            // Lines are stored with their SKU in canonical spelling, as the query's is.
            Where("r.lines @> @line", "line", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(new[] { new { sku } }, Json));
        }

        if (query.SubmittedFrom is { } from)
        {
            Where("r.submitted_at >= @from", "from", NpgsqlDbType.TimestampTz, from);
        }

        if (query.SubmittedTo is { } to)
        {
            Where("r.submitted_at < @to", "to", NpgsqlDbType.TimestampTz, to);
        }

        if (query.After is { } after)
        {
            sql.Append("\n  AND (r.submitted_at, r.id) < (@after_at, @after_id)");
            parameters.Add(new NpgsqlParameter("after_at", NpgsqlDbType.TimestampTz) { Value = after.SubmittedAt });
            parameters.Add(new NpgsqlParameter("after_id", NpgsqlDbType.Uuid) { Value = after.Id });
        }

        // One more than the page: whether it exists says whether there is a next page.
        sql.Append("\nORDER BY r.submitted_at DESC, r.id DESC\nLIMIT @limit");
        parameters.Add(new NpgsqlParameter("limit", NpgsqlDbType.Integer) { Value = query.Limit + 1 });

        var reservations = await db.Reservations.FromSqlRaw(sql.ToString(), [.. parameters]).AsNoTracking().ToListAsync(cancellationToken);
        var more = reservations.Count > query.Limit;
        if (more)
        {
            reservations.RemoveAt(reservations.Count - 1);
        }

        var ids = reservations.Select(r => r.Id).ToList();
        var sagas = await db.Sagas.AsNoTracking().Where(s => ids.Contains(s.CorrelationId)).ToDictionaryAsync(s => s.CorrelationId, cancellationToken);
        var views = reservations.Select(r => ReservationView.Of(r, sagas.GetValueOrDefault(r.Id))).ToList();
        var next = more ? new ListCursor(reservations[^1].SubmittedAt, reservations[^1].Id).ToString() : null;
        return new ReservationPage(views, next);
    }
}
