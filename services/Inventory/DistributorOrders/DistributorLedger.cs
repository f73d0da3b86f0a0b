using System.Data;
using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace Brokering.Inventory.DistributorOrders;

/// <summary>A hold on the distributor's stock, as the distributor sees it.</summary>
/// <param name="HoldId">Hold id (also in the order that commits it).</param>
/// <param name="ReservationId">The buyer's reservation the units are held for.</param>
/// <param name="BuyerOrganisation">The buyer organisation; null for holds placed before ordering named it.</param>
/// <param name="Sku">Catalogue SKU.</param>
/// <param name="Warehouse">Warehouse code.</param>
/// <param name="Units">Units held.</param>
/// <param name="UnitPrice">Unit price when held.</param>
/// <param name="Currency">ISO 4217 currency.</param>
/// <param name="Status"><c>held</c>, <c>committed</c>, <c>released</c>, <c>expired</c> or <c>shortfall</c>.</param>
/// <param name="HeldAt">When the hold was placed.</param>
/// <param name="ExpiresAt">When it lapses (or lapsed) unless committed.</param>
/// <param name="ClosedAt">When it was committed, released, expired or fell short; null while held.</param>
public sealed record DistributorHoldView(
    Guid HoldId, Guid ReservationId, string? BuyerOrganisation, string Sku, string Warehouse, long Units, decimal UnitPrice, string Currency,
    string Status, DateTimeOffset HeldAt, DateTimeOffset ExpiresAt, DateTimeOffset? ClosedAt);

/// <summary>
/// An order: the holds of one reservation at this distributor that one commit made firm (what
/// <see cref="DistributorOrderPlaced"/> announced).
/// </summary>
/// <param name="ReservationId">The buyer's reservation.</param>
/// <param name="BuyerOrganisation">The buyer organisation; null for holds placed before ordering named it.</param>
/// <param name="CommittedAt">When the holds were committed.</param>
/// <param name="Units">Units in all.</param>
/// <param name="Lines">What to ship from where, at what price.</param>
public sealed record DistributorOrderView(
    Guid ReservationId, string? BuyerOrganisation, DateTimeOffset CommittedAt, long Units, IReadOnlyList<DistributorOrderLine> Lines);

/// <summary>A page of the holds list; <see cref="Next"/> continues it and is absent on the last page.</summary>
public sealed record DistributorHoldsPage(IReadOnlyList<DistributorHoldView> Holds, string? Next);

/// <summary>A page of the orders list; <see cref="Next"/> continues it and is absent on the last page.</summary>
public sealed record DistributorOrdersPage(IReadOnlyList<DistributorOrderView> Orders, string? Next);

/// <summary>
/// A distributor's own holds and orders, oldest first, a page at a time. Every statement is scoped to the distributor
/// named by the caller's token: another distributor's holds do not exist for it, whatever the filters or cursor.
/// </summary>
/// <remarks>
/// Oldest first, so an ERP that polls with the last page's <c>next</c> (or with <c>since</c>) reads each hold and each
/// order once, as they come. A hold's sort key (placed at, id) never changes; its status does, so a status filter can
/// gain or lose a hold between pages. An order's key is (committed at, reservation id). A commit revoked afterwards
/// (the cutoff moved while it was in flight, see docs/inventory.md) releases its holds, and the order then leaves the list.
/// </remarks>
internal sealed class DistributorLedger(InventoryDbContext db)
{
    public async Task<DistributorHoldsPage> HoldsAsync(string distributorId, DistributorListQuery query, CancellationToken cancellationToken)
    {
        var (sql, parameters) = Filtered("""
            SELECT id, reservation_id, buyer_organisation, sku, warehouse, quantity, unit_price, currency, status, created_at, expires_at, closed_at
            FROM holds WHERE distributor_id = @distributor
            """, distributorId, query, "created_at", "id");
        if (query.Statuses.Count > 0)
        {
            sql.Append("\n  AND status = ANY(@statuses)");
            parameters.Add(new NpgsqlParameter("statuses", NpgsqlDbType.Array | NpgsqlDbType.Varchar) { Value = query.Statuses.Select(s => s.ToString()).ToArray() });
        }

        sql.Append("\nORDER BY created_at, id LIMIT @limit");
        var holds = new List<DistributorHoldView>();
        await ReadAsync(sql.ToString(), parameters, reader => holds.Add(new DistributorHoldView(
            reader.GetGuid(0), reader.GetGuid(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3), reader.GetString(4),
            reader.GetInt64(5), reader.GetDecimal(6), reader.GetString(7),
            DistributorListQuery.NameOf(Enum.Parse<HoldStatus>(reader.GetString(8))),
            reader.GetFieldValue<DateTimeOffset>(9), reader.GetFieldValue<DateTimeOffset>(10),
            reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11))), cancellationToken);

        var more = holds.Count > query.Limit;
        if (more)
        {
            holds.RemoveAt(holds.Count - 1);
        }

        return new DistributorHoldsPage(holds, more ? new DistributorCursor(holds[^1].HeldAt, holds[^1].HoldId).ToToken(DistributorCursor.HoldsList) : null);
    }

    public async Task<DistributorOrdersPage> OrdersAsync(string distributorId, DistributorListQuery query, CancellationToken cancellationToken)
    {
        // The page's orders first (one row per commit of a reservation, the SKU filter naming any of its lines), then
        // every line of those orders.
        var (sql, parameters) = Filtered("""
            WITH page AS (
                SELECT reservation_id, closed_at FROM holds
                WHERE distributor_id = @distributor AND status = 'Committed'
            """, distributorId, query, "closed_at", "reservation_id");
        sql.Append("""

                GROUP BY reservation_id, closed_at
                ORDER BY closed_at, reservation_id LIMIT @limit)
            SELECT p.reservation_id, p.closed_at, h.buyer_organisation, h.id, h.sku, h.warehouse, h.quantity, h.unit_price, h.currency
            FROM page p JOIN holds h ON h.reservation_id = p.reservation_id AND h.closed_at = p.closed_at
            WHERE h.distributor_id = @distributor AND h.status = 'Committed'
            ORDER BY p.closed_at, p.reservation_id, h.sku COLLATE "C", h.warehouse COLLATE "C", h.id
            """);
        var orders = new List<DistributorOrderView>();
        var lines = new List<DistributorOrderLine>();
        await ReadAsync(sql.ToString(), parameters, reader =>
        {
            var reservation = reader.GetGuid(0);
            var committedAt = reader.GetFieldValue<DateTimeOffset>(1);
            if (orders.Count == 0 || orders[^1].ReservationId != reservation || orders[^1].CommittedAt != committedAt)
            {
                lines = [];
                orders.Add(new DistributorOrderView(reservation, reader.IsDBNull(2) ? null : reader.GetString(2), committedAt, 0, lines));
            }

            lines.Add(new DistributorOrderLine(
                reader.GetGuid(3), reader.GetString(4), reader.GetString(5), reader.GetInt64(6), reader.GetDecimal(7), reader.GetString(8)));
        }, cancellationToken);

        orders = [.. orders.Select(order => order with { Units = order.Lines.Sum(line => line.Units) })];
        var more = orders.Count > query.Limit;
        if (more)
        {
            orders.RemoveAt(orders.Count - 1);
        }

        return new DistributorOrdersPage(
            orders, more ? new DistributorCursor(orders[^1].CommittedAt, orders[^1].ReservationId).ToToken(DistributorCursor.OrdersList) : null);
    }

    /// <summary>The distributor, SKU, since and cursor conditions on (<paramref name="at"/>, <paramref name="id"/>), the list's key.</summary>
    private static (System.Text.StringBuilder Sql, List<NpgsqlParameter> Parameters) Filtered(
        string select, string distributorId, DistributorListQuery query, string at, string id)
    {
        var sql = new System.Text.StringBuilder(select.TrimEnd());
        var parameters = new List<NpgsqlParameter>
        {
            new("distributor", NpgsqlDbType.Text) { Value = distributorId },
            // One more than the page, to know whether another follows.
            new("limit", NpgsqlDbType.Integer) { Value = query.Limit + 1 },
        };
        if (query.Sku is { } sku)
        {
            sql.Append("\n  AND sku = @sku");
            parameters.Add(new NpgsqlParameter("sku", NpgsqlDbType.Text) { Value = sku });
        }

        if (query.Since is { } since)
        {
            sql.Append($"\n  AND {at} >= @since");
            parameters.Add(new NpgsqlParameter("since", NpgsqlDbType.TimestampTz) { Value = since });
        }

        if (query.After is { } after)
        {
            sql.Append($"\n  AND ({at}, {id}) > (@afterAt, @afterId)");
            parameters.Add(new NpgsqlParameter("afterAt", NpgsqlDbType.TimestampTz) { Value = after.At });
            parameters.Add(new NpgsqlParameter("afterId", NpgsqlDbType.Uuid) { Value = after.Id });
        }

        return (sql, parameters);
    }

    private async Task ReadAsync(string sql, List<NpgsqlParameter> parameters, Action<NpgsqlDataReader> row, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        if (connection.State != ConnectionState.Open)
        {
            await db.Database.OpenConnectionAsync(cancellationToken);
        }

        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddRange(parameters.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            row(reader);
        }
    }
}
