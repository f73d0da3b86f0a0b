using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using Microsoft.Extensions.Options;

namespace Brokering.Inventory.Holds;

/// <summary>
/// Releases holds whose time is up, durably and by the service itself: every tick it takes due holds
/// with <c>FOR UPDATE SKIP LOCKED</c> (so two replicas share the work and never expire a hold twice),
/// gives their units back, marks them expired and publishes <see cref="HoldsExpired"/>, all in one transaction.
/// </summary>
internal sealed class HoldExpirySweeper(
    InventoryTransactions transactions,
    IOptions<InventoryOptions> options,
    TimeProvider time,
    InventoryMetrics metrics,
    ILogger<HoldExpirySweeper> logger) : BackgroundService
{
    private sealed record DueHold(Guid Id, Guid ReservationId, string Status, string DistributorId, string Sku, string Warehouse, long Quantity);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.SweepExpiredHolds)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.ExpirySweepInterval, time);
        try
        {
            do
            {
                try
                {
                    while (await SweepOnceAsync(stoppingToken) >= options.Value.ExpirySweepBatchSize)
                    {
                        // A full batch: more may be due.
                    }
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogError(exception, "Expiring holds failed; retrying on the next tick");
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    /// <summary>Expires one batch of due holds; returns how many were taken.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        var expired = await transactions.RunAsync(
            async (unit, token) =>
            {
                var due = new List<DueHold>();
                await using (var command = unit.Command("""
                    SELECT id, reservation_id, status, distributor_id, sku, warehouse, quantity FROM holds
                    WHERE status IN ('Active', 'Shortfall') AND expires_at <= @now
                    ORDER BY expires_at LIMIT @limit
                    FOR UPDATE SKIP LOCKED
                    """))
                {
                    command.Parameters.AddWithValue("now", unit.Now);
                    command.Parameters.AddWithValue("limit", options.Value.ExpirySweepBatchSize);
                    await using var reader = await command.ExecuteReaderAsync(token);
                    while (await reader.ReadAsync(token))
                    {
                        due.Add(new DueHold(
                            reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetInt64(6)));
                    }
                }

                if (due.Count == 0)
                {
                    return due;
                }

                await using (var command = unit.Command("""
                    UPDATE holds SET status = 'Expired', closed_at = @now, reason = COALESCE(reason, 'Lapsed uncommitted.') WHERE id = ANY(@ids)
                    """))
                {
                    command.Parameters.AddWithValue("now", unit.Now);
                    command.Parameters.AddWithValue("ids", due.Select(h => h.Id).ToArray());
                    await command.ExecuteNonQueryAsync(token);
                }

                // Shortfall holds already gave their units back; only active ones still count in held.
                var active = due.Where(h => h.Status == nameof(HoldStatus.Active)).ToList();
                await LevelAdjustments.ApplyAsync(unit, active.Select(h => new LevelAdjustment(h.DistributorId, h.Sku, h.Warehouse, -h.Quantity, 0)), token);
                foreach (var reservation in active.GroupBy(h => h.ReservationId))
                {
                    await unit.Publish.Publish(new HoldsExpired(reservation.Key, reservation.Select(h => h.Id).ToList(), unit.Now), token);
                }

                return due;
            },
            cancellationToken);

        if (expired.Count > 0)
        {
            metrics.HoldsExpired(expired.Count);
            logger.LogInformation("Expired {Count} hold(s) of {Reservations} reservation(s)", expired.Count, expired.Select(h => h.ReservationId).Distinct().Count());
        }

        return expired.Count;
    }
}
