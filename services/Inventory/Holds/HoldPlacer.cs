using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Brokering.Inventory.Holds;

/// <summary>
/// Places holds. Concurrent calls are grouped into one transaction (group commit, as TigerBeetle batches
/// transfers): a hot SKU's row lock is held through one commit's fsync for many holds instead of one.
/// Each hold is still one conditional <c>UPDATE … SET held = held + LEAST(wanted, available) WHERE available &gt; 0</c>,
/// so no unit is ever held twice and none beyond what is on hand, whoever else is holding (the other replica
/// included). Every statement of a batch goes in one round trip, taking level locks in key order.
/// </summary>
internal sealed class HoldPlacer(
    InventoryTransactions transactions,
    IOptions<InventoryOptions> options,
    InventoryMetrics metrics,
    ILogger<HoldPlacer> logger) : BackgroundService
{
    private const int Workers = 2;

    // Spans on the holds' own source (exported with the services' "Brokering.*" sources).
    private static readonly ActivitySource Tracing = new("Brokering.Inventory.Holds");

    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>();

    /// <summary>Places the holds of one call, in a transaction shared with whatever calls are waiting alongside it.</summary>
    public Task<PlaceHoldsResult> PlaceAsync(PlaceHoldsCommand command, CancellationToken cancellationToken)
    {
        // The batch runs on a worker, outside the caller's trace: remember the caller's span for what the batch publishes.
        var pending = new Pending(command, Activity.Current?.Context ?? default,
            new TaskCompletionSource<PlaceHoldsResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!queue.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The service is shutting down.");
        }

        // A caller that gives up does not undo the holds: its retry replays the recorded result.
        return pending.Completion.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => RunWorkerAsync(stoppingToken)));
        }
        finally
        {
            queue.Writer.TryComplete();
            while (queue.Reader.TryRead(out var pending))
            {
                pending.Completion.TrySetCanceled(stoppingToken);
            }
        }
    }

    private async Task RunWorkerAsync(CancellationToken stoppingToken)
    {
        var max = Math.Max(1, options.Value.MaxHoldBatch);
        var batch = new List<Pending>(max);
        try
        {
            while (await queue.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < max && queue.Reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                }

                if (batch.Count > 0)
                {
                    await ProcessAsync(batch, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            foreach (var pending in batch)
            {
                pending.Completion.TrySetCanceled(stoppingToken);
            }
        }
    }

    private async Task ProcessAsync(IReadOnlyList<Pending> batch, CancellationToken cancellationToken)
    {
        try
        {
            var commands = batch.Select(p => p.Command).ToList();
            var callers = batch.Select(p => p.Caller).ToList();
            var results = await transactions.RunRawAsync((unit, token) => PlaceBatchAsync(unit, commands, callers, token), cancellationToken);
            metrics.HoldBatch(batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                if (!results[i].Replayed)
                {
                    metrics.UnitsHeld(results[i].Holds.Sum(h => h.Held));
                }

                batch[i].Completion.TrySetResult(results[i]);
            }
        }
        catch (Exception exception) when (batch.Count > 1 && exception is not OperationCanceledException)
        {
            // One poisoned call must not sink the others: place them one by one.
            logger.LogWarning(exception, "A batch of {Count} PlaceHolds calls failed; placing them one by one", batch.Count);
            foreach (var pending in batch)
            {
                await ProcessAsync([pending], cancellationToken);
            }
        }
        catch (Exception exception)
        {
            foreach (var pending in batch)
            {
                pending.Completion.TrySetException(exception);
            }
        }
    }

    /// <summary>
    /// Places the holds of every command of a batch inside one transaction; one result per command, in order.
    /// <paramref name="callers"/> holds each command's caller span, so its HoldsPlaced continues the caller's trace.
    /// Round trips: BEGIN and the idempotency claims (no level locked yet); one statement that locks the levels in key
    /// order, grants, and inserts the hold rows; then the recorded results, the outbox rows and COMMIT together. A hot
    /// level is locked for the second round trip and the commit.
    /// </summary>
    internal async Task<PlaceHoldsResult[]> PlaceBatchAsync(
        RawUnitOfWork unit, IReadOnlyList<PlaceHoldsCommand> commands, IReadOnlyList<ActivityContext> callers, CancellationToken cancellationToken)
    {
        var results = new PlaceHoldsResult?[commands.Count];
        var firstIndex = new Dictionary<(Guid, int), int>();
        for (var i = 0; i < commands.Count; i++)
        {
            firstIndex.TryAdd((commands[i].ReservationId, commands[i].PlanVersion), i);
        }

        var claimed = await ClaimAsync(unit, firstIndex.Keys, cancellationToken);
        var replays = firstIndex.Keys.Where(k => !claimed.Contains(k)).ToList();
        foreach (var (key, result) in await RecordedResultsAsync(unit, replays, cancellationToken))
        {
            results[firstIndex[key]] = result;
        }

        var toPlace = firstIndex.Where(e => claimed.Contains(e.Key)).Select(e => e.Value).ToList();
        var placed = await HoldAsync(unit, commands, toPlace, cancellationToken);
        foreach (var (index, holds) in placed)
        {
            results[index] = new PlaceHoldsResult(holds, Replayed: false);
        }

        foreach (var (index, holds) in placed)
        {
            var command = commands[index];
            // One source per reservation: the relay sends different reservations' events in parallel.
            unit.Outbox.StartSource();
            using var span = Tracing.StartActivity("publish HoldsPlaced", ActivityKind.Internal, callers[index]);
            await unit.Outbox.PublishEndpoint.Publish(
                new HoldsPlaced(
                    command.ReservationId,
                    command.PlanVersion,
                    holds.Select(h => new PlacedHold(h.HoldId ?? Guid.Empty, h.Sku, h.DistributorId, h.Warehouse, h.Requested, h.Held, h.UnitPrice, h.Currency)).ToList(),
                    command.ExpiresAt),
                cancellationToken);
        }

        await using (var batch = unit.Connection.CreateBatch())
        {
            AddRecordResults(batch, commands, placed);
            unit.Outbox.AddTo(batch);
            batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        // Calls repeated within the batch replay the first one's result.
        for (var i = 0; i < commands.Count; i++)
        {
            var first = firstIndex[(commands[i].ReservationId, commands[i].PlanVersion)];
            results[i] ??= results[first]! with { Replayed = true };
        }

        return results.Select(r => r!).ToArray();
    }

    /// <summary>
    /// Opens the transaction and inserts the idempotency rows; returns the keys this transaction now owns (the others
    /// were placed before). A concurrent claim of the same key waits here, on the key, until the other commits.
    /// </summary>
    private static async Task<HashSet<(Guid, int)>> ClaimAsync(RawUnitOfWork unit, ICollection<(Guid Reservation, int Version)> keys, CancellationToken cancellationToken)
    {
        await using var batch = unit.Connection.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
        // Sorted, so two transactions claiming overlapping keys wait in one direction only.
        var claim = new NpgsqlBatchCommand("""
            INSERT INTO hold_requests (reservation_id, plan_version, result, created_at)
            SELECT k.r, k.v, '[]'::jsonb, $1 FROM unnest($2::uuid[], $3::int[]) AS k(r, v) ORDER BY k.r, k.v
            ON CONFLICT DO NOTHING
            RETURNING reservation_id, plan_version
            """);
        claim.Parameters.Add(new NpgsqlParameter { Value = unit.Now });
        claim.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Reservation).ToArray() });
        claim.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Version).ToArray() });
        batch.BatchCommands.Add(claim);
        var claimed = new HashSet<(Guid, int)>();
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            claimed.Add((reader.GetGuid(0), reader.GetInt32(1)));
        }

        return claimed;
    }

    private static async Task<List<((Guid, int) Key, PlaceHoldsResult Result)>> RecordedResultsAsync(
        RawUnitOfWork unit, List<(Guid Reservation, int Version)> keys, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
        {
            return [];
        }

        await using var command = unit.Connection.CreateCommand();
        command.CommandText = """
            SELECT h.reservation_id, h.plan_version, h.result::text FROM hold_requests h
            JOIN unnest($1::uuid[], $2::int[]) AS k(r, v) ON k.r = h.reservation_id AND k.v = h.plan_version
            """;
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Reservation).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Version).ToArray() });
        var results = new List<((Guid, int), PlaceHoldsResult)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var holds = JsonSerializer.Deserialize<List<PlacedHoldResult>>(reader.GetString(2)) ?? [];
            results.Add(((reader.GetGuid(0), reader.GetInt32(1)), new PlaceHoldsResult(holds, Replayed: true)));
        }

        return results;
    }

    /// <summary>
    /// The whole batch in one statement. The levels are locked in key order (<c>ORDER BY … FOR UPDATE</c> sorts before
    /// it locks, and a locked row is read at its latest committed version); the lines of one level are then granted in
    /// order by a recursive fold over what remains (what one conditional UPDATE per line did, one after another); each
    /// level is updated once by the sum of its grants, and the granted lines become hold rows.
    /// </summary>
    private const string HoldSql = """
        WITH RECURSIVE
        lines AS (
            SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::numeric[], $7::uuid[], $8::uuid[], $9::int[], $10::timestamptz[])
                AS l(ord, distributor_id, sku, warehouse, quantity, max_price, hold_id, reservation_id, plan_version, expires_at)),
        locked AS MATERIALIZED (
            SELECT s.distributor_id::text AS distributor_id, s.sku::text AS sku, s.warehouse::text AS warehouse,
                   s.on_hand - s.held - s.committed AS available, s.unit_price, s.currency, s.minimum_order_quantity AS moq
            FROM stock_levels s JOIN distributors d ON d.id = s.distributor_id
            WHERE (s.distributor_id, s.sku, s.warehouse) IN (SELECT l.distributor_id, l.sku, l.warehouse FROM lines l)
              AND d.last_feed_at > $11
            ORDER BY s.distributor_id COLLATE "C", s.sku COLLATE "C", s.warehouse COLLATE "C"
            FOR UPDATE OF s),
        ranked AS MATERIALIZED (
            SELECT l.*, k.available, k.unit_price, k.currency, k.moq,
                   row_number() OVER (PARTITION BY l.distributor_id, l.sku, l.warehouse ORDER BY l.ord) AS n
            FROM lines l JOIN locked k ON k.distributor_id = l.distributor_id AND k.sku = l.sku AND k.warehouse = l.warehouse),
        fold AS (
            SELECT r.ord, r.distributor_id, r.sku, r.warehouse, r.n, g.granted, r.available - g.granted AS remaining
            FROM ranked r
            CROSS JOIN LATERAL (SELECT CASE WHEN r.available > 0 AND LEAST(r.quantity, r.available) >= r.moq
                                             AND (r.max_price IS NULL OR r.unit_price <= r.max_price)
                                            THEN LEAST(r.quantity, r.available) ELSE 0 END AS granted) g
            WHERE r.n = 1
            UNION ALL
            SELECT r.ord, r.distributor_id, r.sku, r.warehouse, r.n, g.granted, f.remaining - g.granted
            FROM fold f
            JOIN ranked r ON r.distributor_id = f.distributor_id AND r.sku = f.sku AND r.warehouse = f.warehouse AND r.n = f.n + 1
            CROSS JOIN LATERAL (SELECT CASE WHEN f.remaining > 0 AND LEAST(r.quantity, f.remaining) >= r.moq
                                             AND (r.max_price IS NULL OR r.unit_price <= r.max_price)
                                            THEN LEAST(r.quantity, f.remaining) ELSE 0 END AS granted) g),
        totals AS (
            SELECT distributor_id, sku, warehouse, sum(granted)::bigint AS granted FROM fold
            GROUP BY distributor_id, sku, warehouse HAVING sum(granted) > 0),
        updated AS (
            UPDATE stock_levels s SET held = s.held + t.granted, last_granted = t.granted
            FROM totals t WHERE s.distributor_id = t.distributor_id AND s.sku = t.sku AND s.warehouse = t.warehouse
            RETURNING 1),
        inserted AS (
            INSERT INTO holds (id, reservation_id, plan_version, distributor_id, sku, warehouse, quantity, unit_price, currency, status, expires_at, created_at)
            SELECT r.hold_id, r.reservation_id, r.plan_version, r.distributor_id, r.sku, r.warehouse, f.granted, r.unit_price, r.currency, 'Active', r.expires_at, $12
            FROM fold f JOIN ranked r ON r.ord = f.ord WHERE f.granted > 0
            RETURNING 1)
        SELECT f.ord, f.granted, r.unit_price, r.currency FROM fold f JOIN ranked r ON r.ord = f.ord
        """;

    /// <summary>Grants every line to place, in one statement (see <see cref="HoldSql"/>).</summary>
    private async Task<List<(int Index, List<PlacedHoldResult> Holds)>> HoldAsync(
        RawUnitOfWork unit, IReadOnlyList<PlaceHoldsCommand> commands, List<int> toPlace, CancellationToken cancellationToken)
    {
        var lines = toPlace
            .SelectMany(index => commands[index].Holds.Select((line, position) => (Index: index, Position: position, Line: Normalise(line), HoldId: Guid.CreateVersion7(unit.Now))))
            .OrderBy(l => l.Line.DistributorId, StringComparer.Ordinal)
            .ThenBy(l => l.Line.Sku, StringComparer.Ordinal)
            .ThenBy(l => l.Line.Warehouse, StringComparer.Ordinal)
            .ThenBy(l => l.Index)
            .ThenBy(l => l.Position)
            .ToList();
        var placed = toPlace.ToDictionary(i => i, i => new PlacedHoldResult?[commands[i].Holds.Count]);
        if (lines.Count > 0)
        {
            var granted = new (long Held, decimal UnitPrice, string Currency)?[lines.Count];
            await using (var command = unit.Connection.CreateCommand())
            {
                command.CommandText = HoldSql;
                command.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Range(0, lines.Count).ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => l.Line.DistributorId).ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => l.Line.Sku).ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => l.Line.Warehouse).ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => l.Line.Quantity).ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => l.Line.MaxUnitPrice).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Numeric });
                command.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => l.HoldId).ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => commands[l.Index].ReservationId).ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => commands[l.Index].PlanVersion).ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => commands[l.Index].ExpiresAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                command.Parameters.Add(new NpgsqlParameter { Value = unit.Now - options.Value.StaleAfter });
                command.Parameters.Add(new NpgsqlParameter { Value = unit.Now });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    granted[reader.GetInt32(0)] = (reader.GetInt64(1), reader.GetDecimal(2), reader.GetString(3));
                }
            }

            for (var i = 0; i < lines.Count; i++)
            {
                var (index, position, line, holdId) = lines[i];
                var expiresAt = commands[index].ExpiresAt;
                placed[index][position] = granted[i] is { Held: > 0 } grant
                    ? new PlacedHoldResult(holdId, line.Sku, line.DistributorId, line.Warehouse, line.Quantity, grant.Held, grant.UnitPrice, grant.Currency, expiresAt)
                    : new PlacedHoldResult(null, line.Sku, line.DistributorId, line.Warehouse, line.Quantity, 0, 0m, string.Empty, expiresAt);
            }
        }

        return placed.Select(p => (p.Key, p.Value.Select(h => h!).ToList())).ToList();
    }

    private static HoldLine Normalise(HoldLine line) =>
        line with { Sku = line.Sku.Trim(), DistributorId = line.DistributorId.Trim(), Warehouse = line.Warehouse.Trim() };

    /// <summary>Records each call's result for replays, in one statement.</summary>
    private static void AddRecordResults(NpgsqlBatch batch, IReadOnlyList<PlaceHoldsCommand> commands, List<(int Index, List<PlacedHoldResult> Holds)> placed)
    {
        if (placed.Count == 0)
        {
            return;
        }

        var record = new NpgsqlBatchCommand("""
            UPDATE hold_requests h SET result = u.result
            FROM unnest($1::uuid[], $2::int[], $3::jsonb[]) AS u(r, v, result)
            WHERE h.reservation_id = u.r AND h.plan_version = u.v
            """);
        record.Parameters.Add(new NpgsqlParameter { Value = placed.Select(p => commands[p.Index].ReservationId).ToArray() });
        record.Parameters.Add(new NpgsqlParameter { Value = placed.Select(p => commands[p.Index].PlanVersion).ToArray() });
        record.Parameters.Add(new NpgsqlParameter { Value = placed.Select(p => JsonSerializer.Serialize(p.Holds)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        batch.BatchCommands.Add(record);
    }

    private sealed record Pending(PlaceHoldsCommand Command, ActivityContext Caller, TaskCompletionSource<PlaceHoldsResult> Completion);
}
