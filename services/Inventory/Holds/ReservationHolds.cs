using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using Brokering.Inventory.DistributorWebhooks;
using Brokering.Messaging.Postgres;
using Npgsql;
using NpgsqlTypes;

namespace Brokering.Inventory.Holds;

/// <summary>Why a commit was refused.</summary>
public enum CommitRefusal
{
    /// <summary>The instant the commit had to land before (<c>commit_before</c>) has passed.</summary>
    DeadlinePassed,

    /// <summary>A hold named has lapsed, was released or is not the reservation's, or there is nothing to commit.</summary>
    HoldsUnavailable,
}

/// <summary>Commit refused: the cutoff passed, or the reservation has nothing left to commit.</summary>
public sealed class CommitRefusedException(string message, CommitRefusal refusal) : Exception(message)
{
    public CommitRefusal Refusal { get; } = refusal;
}

/// <summary>What a commit of a reservation's holds committed.</summary>
/// <param name="HoldIds">Every committed hold named (or, with none named, of the reservation), by id.</param>
/// <param name="Units">Their units in all.</param>
/// <param name="CommittedAt">When the last of them was committed: this call's instant when it committed any.</param>
public sealed record CommitHoldsResult(IReadOnlyList<Guid> HoldIds, long Units, DateTimeOffset CommittedAt);

/// <summary>
/// Releases, commits and renews a reservation's holds (the gRPC service <c>HoldsLedger</c> places them with
/// <see cref="HoldPlacer"/> and settles them here). Release and commit are idempotent; each is two round trips on a
/// bare connection: the reservation's holds locked (not a hot row: another reservation's commit does not wait on them), then, in one batch,
/// the holds' new status, the outbox rows, the stock levels' change and the COMMIT. A level is a hot row (every hold of a
/// popular SKU at one distributor moves it), so it is locked for that last batch only, not across client round trips:
/// under a burst the process that holds it may wait for a core between statements, and every other commit, release and
/// hold batch of that SKU would wait with it.
/// </summary>
internal sealed class ReservationHolds(InventoryTransactions transactions)
{
    private sealed record HoldRow(
        Guid Id, string Status, string DistributorId, string Sku, string Warehouse, long Quantity, DateTimeOffset ExpiresAt, DateTimeOffset? ClosedAt,
        decimal UnitPrice, string Currency, string? BuyerOrganisation);

    /// <summary>
    /// Releases every active hold of the reservation (and closes its shortfall holds); returns how many were released.
    /// With <paramref name="revokeCommitsFrom"/>, holds committed at or after that instant are released too: ordering
    /// asks for it when the cutoff was moved earlier while the commit was in flight and the commit did not land strictly
    /// before the new cutoff, so that commit does not stand and its units return to the distributor's available stock.
    /// With <paramref name="refusePlansThrough"/> (a release that ends the reservation), plan versions 1 through it that
    /// were never placed are recorded as having held nothing, so a placement of one of them, now or later, holds
    /// nothing (<see cref="HoldBatch"/> replays the record). A placement in flight holds its key's record uncommitted: the
    /// insert waits for it, and the lock that follows, a statement with a snapshot of its own, then finds its holds and
    /// releases them with the rest. No hold outlives an ended reservation, whoever still waits for the placement's answer.
    /// </summary>
    public Task<int> ReleaseAsync(
        Guid reservationId, string reason, DateTimeOffset? revokeCommitsFrom, int refusePlansThrough, CancellationToken cancellationToken) =>
        transactions.RunRawAsync(
            async (unit, token) =>
            {
                var (holds, announced) = await BeginAndLockHoldsAsync(unit, reservationId, refusePlansThrough, token);
                var released = holds
                    .Where(h => h.Status is nameof(HoldStatus.Active) or nameof(HoldStatus.Shortfall)
                        || (h.Status == nameof(HoldStatus.Committed) && revokeCommitsFrom is { } from && h.ClosedAt >= from))
                    .ToList();
                if (released.Count == 0)
                {
                    await EndAsync(unit, token);
                    return 0;
                }

                if (announced)
                {
                    await unit.Outbox.PublishEndpoint.Publish(new HoldsReleased(reservationId, released.Select(h => h.Id).ToList(), reason), token);
                }

                // A distributor told of an order must be told when it no longer stands.
                foreach (var revoked in released
                    .Where(h => h.Status == nameof(HoldStatus.Committed))
                    .GroupBy(h => (h.DistributorId, h.ClosedAt))
                    .OrderBy(g => g.Key.DistributorId, StringComparer.Ordinal).ThenBy(g => g.Key.ClosedAt))
                {
                    await unit.Outbox.PublishEndpoint.Publish(
                        new DistributorOrderRevoked(
                            revoked.Key.DistributorId, reservationId, revoked.Key.ClosedAt!.Value,
                            [.. revoked.Select(h => h.Id).Order()], revoked.Sum(h => h.Quantity), reason),
                        token);
                }

                await WriteAndCommitAsync(
                    unit,
                    released,
                    HoldStatus.Released,
                    reason,
                    released
                        .Where(h => h.Status is nameof(HoldStatus.Active) or nameof(HoldStatus.Committed))
                        .Select(h => h.Status == nameof(HoldStatus.Active)
                            ? new LevelAdjustment(h.DistributorId, h.Sku, h.Warehouse, -h.Quantity, 0)
                            : new LevelAdjustment(h.DistributorId, h.Sku, h.Warehouse, 0, -h.Quantity)),
                    token);
                return released.Count;
            },
            cancellationToken);

    /// <summary>
    /// Commits the holds <paramref name="holdIds"/> of the reservation, all or none, strictly before
    /// <paramref name="commitBefore"/>: if any of them has expired, been released or is not the reservation's,
    /// nothing is committed and the refusal names those holds. A second call commits nothing more and returns the
    /// committed holds again (even after the cutoff, so a caller whose first answer was lost learns the truth).
    /// With no <paramref name="holdIds"/> (a caller predating them) every active, unexpired hold of the reservation
    /// is committed.
    /// </summary>
    public Task<CommitHoldsResult> CommitAsync(Guid reservationId, DateTimeOffset commitBefore, IReadOnlyCollection<Guid> holdIds,
        CancellationToken cancellationToken) =>
        transactions.RunRawAsync(
            async (unit, token) =>
            {
                var (holds, announced) = await BeginAndLockHoldsAsync(unit, reservationId, refusePlansThrough: 0, token);
                if (holdIds.Count > 0)
                {
                    var named = holds.Where(h => holdIds.Contains(h.Id)).ToList();
                    var lapsed = holdIds.Distinct()
                        .Select(id => (Id: id, Hold: named.SingleOrDefault(h => h.Id == id)))
                        .Where(x => x.Hold is null
                            || !(x.Hold.Status == nameof(HoldStatus.Committed) || (x.Hold.Status == nameof(HoldStatus.Active) && x.Hold.ExpiresAt > unit.Now)))
                        .Select(x => $"{x.Id} ({(x.Hold is null ? "not a hold of this reservation" : x.Hold.Status == nameof(HoldStatus.Active) ? "expired" : x.Hold.Status.ToLowerInvariant())})")
                        .ToList();
                    if (lapsed.Count > 0)
                    {
                        // The open transaction is rolled back when the connection goes back to the pool.
                        throw new CommitRefusedException(
                            $"Nothing was committed for reservation {reservationId}: holds {string.Join(", ", lapsed)} can no longer be committed.",
                            CommitRefusal.HoldsUnavailable);
                    }

                    holds = named;
                }

                var committable = holds.Where(h => h.Status == nameof(HoldStatus.Active) && h.ExpiresAt > unit.Now).ToList();
                var alreadyCommitted = holds.Where(h => h.Status == nameof(HoldStatus.Committed)).ToList();

                // A repeat of a commit that succeeded is answered even after the cutoff: it commits nothing.
                if (unit.Now >= commitBefore && (committable.Count > 0 || alreadyCommitted.Count == 0))
                {
                    throw new CommitRefusedException(
                        $"The cutoff {commitBefore:O} has passed (now {unit.Now:O}); nothing was committed.", CommitRefusal.DeadlinePassed);
                }

                if (committable.Count == 0 && alreadyCommitted.Count == 0)
                {
                    var why = holds.Count == 0
                        ? "the reservation has no holds"
                        : $"its holds are {string.Join(", ", holds.Select(h => h.Status == nameof(HoldStatus.Active) ? "expired" : h.Status.ToLowerInvariant()).Distinct())}";
                    throw new CommitRefusedException($"Nothing to commit for reservation {reservationId}: {why}.", CommitRefusal.HoldsUnavailable);
                }

                if (committable.Count > 0)
                {
                    // Every named hold that is now committed, as the answer says, not only those this call committed: the
                    // saga shows the buyer what the event names, and a hold an earlier commit made firm (whose answer was
                    // lost, say) would otherwise vanish from the reservation while inventory keeps it committed.
                    var firm = alreadyCommitted.Concat(committable).OrderBy(h => h.Id).ToList();
                    if (announced)
                    {
                        await unit.Outbox.PublishEndpoint.Publish(
                            new HoldsCommitted(reservationId, firm.Select(h => h.Id).ToList(), firm.Sum(h => h.Quantity), unit.Now), token);
                    }

                    await PublishOrdersAsync(unit, reservationId, committable, token);
                    await WriteAndCommitAsync(
                        unit,
                        committable,
                        HoldStatus.Committed,
                        null,
                        committable.Select(h => new LevelAdjustment(h.DistributorId, h.Sku, h.Warehouse, -h.Quantity, h.Quantity)),
                        token);
                }
                else
                {
                    await EndAsync(unit, token);
                }

                var all = alreadyCommitted.Concat(committable).OrderBy(h => h.Id).ToList();
                // To the microsecond, as the holds keep it, so a repeat reports exactly the instant the first call did.
                var committedAt = committable.Count > 0
                    ? new DateTimeOffset(unit.Now.UtcTicks - unit.Now.UtcTicks % TimeSpan.TicksPerMicrosecond, TimeSpan.Zero)
                    : alreadyCommitted.Max(h => h.ClosedAt ?? h.ExpiresAt);
                return new CommitHoldsResult(all.Select(h => h.Id).ToList(), all.Sum(h => h.Quantity), committedAt);
            },
            cancellationToken);

    /// <summary>
    /// Extends every active hold of the reservation that has not yet expired to <paramref name="expiresAt"/>, never
    /// shortening one, and returns every active hold that now lasts until then. One statement: no level changes (held
    /// units stay held), and the expiry sweeper, which takes due holds with <c>FOR UPDATE SKIP LOCKED</c>, either expired
    /// a hold first (the renewal then finds it no longer active) or finds it no longer due.
    /// </summary>
    public Task<IReadOnlyList<Guid>> RenewAsync(Guid reservationId, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        transactions.RunRawAsync<IReadOnlyList<Guid>>(
            async (unit, token) =>
            {
                await using var command = new NpgsqlCommand("""
                    WITH renewed AS (
                        UPDATE holds SET expires_at = $2
                        WHERE reservation_id = $1 AND status = 'Active' AND expires_at > $3 AND expires_at < $2
                        RETURNING id)
                    SELECT id FROM renewed
                    UNION
                    SELECT id FROM holds WHERE reservation_id = $1 AND status = 'Active' AND expires_at >= $2
                    ORDER BY id
                    """, unit.Connection);
                command.Parameters.Add(new NpgsqlParameter { Value = reservationId });
                command.Parameters.Add(new NpgsqlParameter { Value = expiresAt });
                command.Parameters.Add(new NpgsqlParameter { Value = unit.Now });
                var renewed = new List<Guid>();
                await using var reader = await command.ExecuteReaderAsync(token);
                while (await reader.ReadAsync(token))
                {
                    renewed.Add(reader.GetGuid(0));
                }

                return renewed;
            },
            cancellationToken);

    /// <summary>
    /// One order notice per distributor whose holds this commit made firm, in the commit's transaction: each distributor
    /// learns of its own lines only. The commit instant is the one stored on the holds (microseconds), so the notice and
    /// <c>GET /v1/distributor/orders</c> name the same order.
    /// </summary>
    private static async Task PublishOrdersAsync(RawUnitOfWork unit, Guid reservationId, IReadOnlyList<HoldRow> committed, CancellationToken cancellationToken)
    {
        var committedAt = new DateTimeOffset(unit.Now.UtcTicks - unit.Now.UtcTicks % TimeSpan.TicksPerMicrosecond, TimeSpan.Zero);
        foreach (var order in committed.GroupBy(h => h.DistributorId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var lines = order
                .OrderBy(h => h.Sku, StringComparer.Ordinal).ThenBy(h => h.Warehouse, StringComparer.Ordinal)
                // The uuid's text compares as PostgreSQL orders uuids, so the lines come in the order the REST list gives.
                .ThenBy(h => h.Id.ToString(), StringComparer.Ordinal)
                .Select(h => new DistributorOrderLine(h.Id, h.Sku, h.Warehouse, h.Quantity, h.UnitPrice, h.Currency))
                .ToList();
            await unit.Outbox.PublishEndpoint.Publish(
                new DistributorOrderPlaced(order.Key, reservationId, order.First().BuyerOrganisation, committedAt, lines.Sum(l => l.Units), lines),
                cancellationToken);
        }
    }

    /// <summary>
    /// Opens the transaction and locks the reservation's holds, in one round trip; also answers whether the changes to
    /// them are announced on the bus (<see cref="HoldAnnouncements"/>: the share lock first, the table read after it).
    /// </summary>
    private static async Task<(List<HoldRow> Holds, bool Announced)> BeginAndLockHoldsAsync(
        RawUnitOfWork unit, Guid reservationId, int refusePlansThrough, CancellationToken cancellationToken)
    {
        await using var batch = unit.Connection.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(HoldAnnouncements.ShareLockSql));
        if (refusePlansThrough > 0)
        {
            var refuse = new NpgsqlBatchCommand("""
                INSERT INTO hold_requests (reservation_id, plan_version, result, created_at)
                SELECT $1, v, '[]'::jsonb, $3 FROM generate_series(1, $2) AS v
                ON CONFLICT DO NOTHING
                """);
            refuse.Parameters.Add(new NpgsqlParameter { Value = reservationId });
            refuse.Parameters.Add(new NpgsqlParameter { Value = refusePlansThrough });
            refuse.Parameters.Add(new NpgsqlParameter { Value = unit.Now });
            batch.BatchCommands.Add(refuse);
        }

        var select = new NpgsqlBatchCommand($"""
            SELECT id, status, distributor_id, sku, warehouse, quantity, expires_at, closed_at, unit_price, currency, buyer_organisation,
                   {HoldAnnouncements.SomeoneSubscribesSql}
            FROM holds WHERE reservation_id = $1 ORDER BY id FOR UPDATE
            """);
        select.Parameters.Add(new NpgsqlParameter { Value = reservationId });
        batch.BatchCommands.Add(select);
        var holds = new List<HoldRow>();
        var announced = false;
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        // The lock's row, then the holds'.
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            announced = reader.GetBoolean(11);
            holds.Add(new HoldRow(
                reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetInt64(5), reader.GetFieldValue<DateTimeOffset>(6),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
                reader.GetDecimal(8), reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10)));
        }

        return (holds, announced);
    }

    /// <summary>
    /// The holds' new status, the outbox rows captured so far, the levels' change (locked in key order, last) and COMMIT,
    /// in one round trip: the levels are held only for the end of it and the commit.
    /// </summary>
    private static async Task WriteAndCommitAsync(RawUnitOfWork unit, IReadOnlyCollection<HoldRow> holds, HoldStatus status, string? reason,
        IEnumerable<LevelAdjustment> adjustments, CancellationToken cancellationToken)
    {
        await using var batch = unit.Connection.CreateBatch();
        // The holds by their ids, planned once as the level locks are (the batch ends with the COMMIT).
        KeyLookups.Begin(batch);
        var update = new NpgsqlBatchCommand("UPDATE holds SET status = $1, closed_at = $2, reason = COALESCE($3, reason) WHERE id = ANY($4)");
        update.Parameters.Add(new NpgsqlParameter { Value = status.ToString() });
        update.Parameters.Add(new NpgsqlParameter { Value = unit.Now });
        update.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)reason ?? DBNull.Value });
        update.Parameters.Add(new NpgsqlParameter { Value = holds.Select(h => h.Id).ToArray() });
        batch.BatchCommands.Add(update);
        unit.Outbox.AddTo(batch);
        LevelAdjustments.AddTo(batch, adjustments);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Ends a transaction that changed nothing, so the holds' locks go at once.</summary>
    private static async Task EndAsync(RawUnitOfWork unit, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("COMMIT", unit.Connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
