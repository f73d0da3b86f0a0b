using Brokering.Inventory.Data;
using Brokering.Messaging.Postgres;
using Npgsql;

namespace Brokering.Inventory.Holds;

/// <summary>A change to a level's held and committed units.</summary>
internal readonly record struct LevelAdjustment(string DistributorId, string Sku, string Warehouse, long HeldDelta, long CommittedDelta);

internal static class LevelAdjustments
{
    /// <summary>
    /// Applies the adjustments (summed per level) in one round trip: the levels are first locked in
    /// key order, the same order every writer uses, so two transactions never wait on each other in a circle.
    /// </summary>
    public static async Task ApplyAsync(UnitOfWork unit, IEnumerable<LevelAdjustment> adjustments, CancellationToken cancellationToken)
    {
        await using var batch = unit.Connection.CreateBatch();
        if (AddTo(batch, adjustments))
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Appends the lock (in key order) and the update of the levels the adjustments touch, summed per level, to
    /// <paramref name="batch"/>; false when they change nothing (and nothing was appended).
    /// </summary>
    public static bool AddTo(NpgsqlBatch batch, IEnumerable<LevelAdjustment> adjustments)
    {
        var summed = adjustments
            .GroupBy(a => (a.DistributorId, a.Sku, a.Warehouse))
            .Select(g => new LevelAdjustment(g.Key.DistributorId, g.Key.Sku, g.Key.Warehouse, g.Sum(a => a.HeldDelta), g.Sum(a => a.CommittedDelta)))
            .Where(a => a.HeldDelta != 0 || a.CommittedDelta != 0)
            .ToList();
        if (summed.Count == 0)
        {
            return false;
        }

        var distributors = summed.Select(a => a.DistributorId).ToArray();
        var skus = summed.Select(a => a.Sku).ToArray();
        var warehouses = summed.Select(a => a.Warehouse).ToArray();
        // Level by level, each found by its key, with no table scan (a plan cached while stock_levels looked small read
        // the whole table at every commit and release once it had grown; docs/conventions.md): the keys are sorted
        // first and each lookup locks its level, so the locks are taken in key order.
        KeyLookups.Begin(batch);
        var lockLevels = batch.CreateBatchCommand();
        lockLevels.CommandText = """
            SELECT 1
            FROM (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS k(d, sku, warehouse)
                  ORDER BY k.d COLLATE "C", k.sku COLLATE "C", k.warehouse COLLATE "C") k
            CROSS JOIN LATERAL (SELECT 1 FROM stock_levels s
                                WHERE s.distributor_id = k.d AND s.sku = k.sku AND s.warehouse = k.warehouse FOR UPDATE) l
            """;
        lockLevels.Parameters.Add(new NpgsqlParameter { Value = distributors });
        lockLevels.Parameters.Add(new NpgsqlParameter { Value = skus });
        lockLevels.Parameters.Add(new NpgsqlParameter { Value = warehouses });
        batch.BatchCommands.Add(lockLevels);

        var update = batch.CreateBatchCommand();
        update.CommandText = """
            UPDATE stock_levels s SET held = s.held + k.held, committed = s.committed + k.committed
            FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS k(d, sku, warehouse, held, committed)
            WHERE k.d = s.distributor_id AND k.sku = s.sku AND k.warehouse = s.warehouse
            """;
        update.Parameters.Add(new NpgsqlParameter { Value = distributors });
        update.Parameters.Add(new NpgsqlParameter { Value = skus });
        update.Parameters.Add(new NpgsqlParameter { Value = warehouses });
        update.Parameters.Add(new NpgsqlParameter { Value = summed.Select(a => a.HeldDelta).ToArray() });
        update.Parameters.Add(new NpgsqlParameter { Value = summed.Select(a => a.CommittedDelta).ToArray() });
        batch.BatchCommands.Add(update);
        // The rest of the caller's transaction plans as it would have.
        KeyLookups.End(batch);
        return true;
    }
}
