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
            var results = await transactions.RunAsync((unit, token) => PlaceBatchAsync(unit, commands, callers, token), cancellationToken);
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
    /// </summary>
    internal async Task<PlaceHoldsResult[]> PlaceBatchAsync(
        UnitOfWork unit, IReadOnlyList<PlaceHoldsCommand> commands, IReadOnlyList<ActivityContext> callers, CancellationToken cancellationToken)
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

        RecordResults(unit, commands, placed);
        foreach (var (index, holds) in placed)
        {
            var command = commands[index];
            using var span = Tracing.StartActivity("publish HoldsPlaced", ActivityKind.Internal, callers[index]);
            await unit.Publish.Publish(
                new HoldsPlaced(
                    command.ReservationId,
                    command.PlanVersion,
                    holds.Select(h => new PlacedHold(h.HoldId ?? Guid.Empty, h.Sku, h.DistributorId, h.Warehouse, h.Requested, h.Held, h.UnitPrice, h.Currency)).ToList(),
                    command.ExpiresAt),
                cancellationToken);
        }

        // Calls repeated within the batch replay the first one's result.
        for (var i = 0; i < commands.Count; i++)
        {
            var first = firstIndex[(commands[i].ReservationId, commands[i].PlanVersion)];
            results[i] ??= results[first]! with { Replayed = true };
        }

        return results.Select(r => r!).ToArray();
    }

    /// <summary>Inserts the idempotency rows; returns the keys this transaction now owns (the others were placed before).</summary>
    private static async Task<HashSet<(Guid, int)>> ClaimAsync(UnitOfWork unit, ICollection<(Guid Reservation, int Version)> keys, CancellationToken cancellationToken)
    {
        // Sorted, so two transactions claiming overlapping keys wait in one direction only.
        await using var command = unit.Command("""
            INSERT INTO hold_requests (reservation_id, plan_version, result, created_at)
            SELECT k.r, k.v, '[]'::jsonb, @now FROM unnest(@reservations::uuid[], @versions::int[]) AS k(r, v) ORDER BY k.r, k.v
            ON CONFLICT DO NOTHING
            RETURNING reservation_id, plan_version
            """);
        command.Parameters.AddWithValue("now", unit.Now);
        command.Parameters.AddWithValue("reservations", keys.Select(k => k.Reservation).ToArray());
        command.Parameters.AddWithValue("versions", keys.Select(k => k.Version).ToArray());
        var claimed = new HashSet<(Guid, int)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            claimed.Add((reader.GetGuid(0), reader.GetInt32(1)));
        }

        return claimed;
    }

    private static async Task<List<((Guid, int) Key, PlaceHoldsResult Result)>> RecordedResultsAsync(
        UnitOfWork unit, List<(Guid Reservation, int Version)> keys, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
        {
            return [];
        }

        await using var command = unit.Command("""
            SELECT h.reservation_id, h.plan_version, h.result::text FROM hold_requests h
            JOIN unnest(@reservations::uuid[], @versions::int[]) AS k(r, v) ON k.r = h.reservation_id AND k.v = h.plan_version
            """);
        command.Parameters.AddWithValue("reservations", keys.Select(k => k.Reservation).ToArray());
        command.Parameters.AddWithValue("versions", keys.Select(k => k.Version).ToArray());
        var results = new List<((Guid, int), PlaceHoldsResult)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var holds = JsonSerializer.Deserialize<List<PlacedHoldResult>>(reader.GetString(2)) ?? [];
            results.Add(((reader.GetGuid(0), reader.GetInt32(1)), new PlaceHoldsResult(holds, Replayed: true)));
        }

        return results;
    }

    /// <summary>Runs the conditional update (and hold insert) of every line to place, in key order, in one round trip.</summary>
    private async Task<List<(int Index, List<PlacedHoldResult> Holds)>> HoldAsync(
        UnitOfWork unit, IReadOnlyList<PlaceHoldsCommand> commands, List<int> toPlace, CancellationToken cancellationToken)
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
            var freshAfter = unit.Now - options.Value.StaleAfter;
            await using var batch = unit.Connection.CreateBatch();
            foreach (var (index, _, line, holdId) in lines)
            {
                var command = commands[index];
                var update = batch.CreateBatchCommand();
                // The grant and the hold row in one statement: the hold is inserted only when units were granted.
                update.CommandText = """
                    WITH granted AS (
                        UPDATE stock_levels s
                        SET held = s.held + LEAST($4, s.on_hand - s.held - s.committed),
                            last_granted = LEAST($4, s.on_hand - s.held - s.committed)
                        FROM distributors d
                        WHERE s.distributor_id = $1 AND s.sku = $2 AND s.warehouse = $3
                          AND d.id = s.distributor_id AND d.last_feed_at > $6
                          AND s.on_hand - s.held - s.committed > 0
                          AND LEAST($4, s.on_hand - s.held - s.committed) >= s.minimum_order_quantity
                          AND ($5::numeric IS NULL OR s.unit_price <= $5::numeric)
                        RETURNING s.last_granted, s.unit_price, s.currency)
                    INSERT INTO holds (id, reservation_id, plan_version, distributor_id, sku, warehouse, quantity, unit_price, currency, status, expires_at, created_at)
                    SELECT $7, $8, $9, $1, $2, $3, g.last_granted, g.unit_price, g.currency, 'Active', $10, $11 FROM granted g
                    RETURNING quantity, unit_price, currency
                    """;
                update.Parameters.Add(new NpgsqlParameter { Value = line.DistributorId });
                update.Parameters.Add(new NpgsqlParameter { Value = line.Sku });
                update.Parameters.Add(new NpgsqlParameter { Value = line.Warehouse });
                update.Parameters.Add(new NpgsqlParameter { Value = line.Quantity });
                update.Parameters.Add(new NpgsqlParameter { Value = (object?)line.MaxUnitPrice ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Numeric });
                update.Parameters.Add(new NpgsqlParameter { Value = freshAfter });
                update.Parameters.Add(new NpgsqlParameter { Value = holdId });
                update.Parameters.Add(new NpgsqlParameter { Value = command.ReservationId });
                update.Parameters.Add(new NpgsqlParameter { Value = command.PlanVersion });
                update.Parameters.Add(new NpgsqlParameter { Value = command.ExpiresAt });
                update.Parameters.Add(new NpgsqlParameter { Value = unit.Now });
                batch.BatchCommands.Add(update);
            }

            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            foreach (var (index, position, line, holdId) in lines)
            {
                var command = commands[index];
                if (await reader.ReadAsync(cancellationToken))
                {
                    placed[index][position] = new PlacedHoldResult(
                        holdId, line.Sku, line.DistributorId, line.Warehouse, line.Quantity,
                        reader.GetInt64(0), reader.GetDecimal(1), reader.GetString(2), command.ExpiresAt);
                }
                else
                {
                    placed[index][position] = new PlacedHoldResult(
                        null, line.Sku, line.DistributorId, line.Warehouse, line.Quantity, 0, 0m, string.Empty, command.ExpiresAt);
                }

                await reader.NextResultAsync(cancellationToken);
            }
        }

        return placed.Select(p => (p.Key, p.Value.Select(h => h!).ToList())).ToList();
    }

    private static HoldLine Normalise(HoldLine line) =>
        line with { Sku = line.Sku.Trim(), DistributorId = line.DistributorId.Trim(), Warehouse = line.Warehouse.Trim() };

    /// <summary>
    /// Records each call's result for replays. Through EF, so the updates travel in the same round trip as the
    /// outbox rows at <c>SaveChanges</c>: the fewer round trips while a hot level is locked, the more holds per second.
    /// </summary>
    private static void RecordResults(
        UnitOfWork unit, IReadOnlyList<PlaceHoldsCommand> commands, List<(int Index, List<PlacedHoldResult> Holds)> placed)
    {
        foreach (var (index, holds) in placed)
        {
            var entry = unit.Db.HoldRequests.Attach(new HoldRequest
            {
                ReservationId = commands[index].ReservationId,
                PlanVersion = commands[index].PlanVersion,
                Result = JsonSerializer.Serialize(holds),
            });
            entry.Property(r => r.Result).IsModified = true;
        }
    }

    private sealed record Pending(PlaceHoldsCommand Command, ActivityContext Caller, TaskCompletionSource<PlaceHoldsResult> Completion);
}
