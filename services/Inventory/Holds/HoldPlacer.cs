using System.Diagnostics;
using Brokering.Inventory.Data;
using Brokering.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Brokering.Inventory.Holds;

/// <summary>
/// Places holds. Concurrent calls are grouped into one transaction (group commit, as TigerBeetle batches
/// transfers): a hot SKU's row lock is held through one commit's fsync for many holds instead of one. This class
/// queues the calls (<see cref="GroupCommit{TRequest, TResult}"/>) and hands each worker's batch to
/// <see cref="HoldBatch"/>, which applies it in one round trip; a batch that fails is retried call by call, so one
/// poisoned call does not sink the others.
/// </summary>
internal sealed class HoldPlacer : BackgroundService
{
    private const int Workers = 2;

    private readonly GroupCommit<Pending, PlaceHoldsResult> calls;

    public HoldPlacer(
        InventoryTransactions transactions, HoldBatch holdBatch, IOptions<InventoryOptions> options, InventoryMetrics metrics, ILogger<HoldPlacer> logger)
    {
        calls = new GroupCommit<Pending, PlaceHoldsResult>(
            async (batch, cancellationToken) =>
            {
                var results = await transactions.RunRawAsync(
                    (unit, token) => holdBatch.PlaceAsync(unit, [.. batch.Select(p => p.Command)], [.. batch.Select(p => p.Caller)], token), cancellationToken);
                metrics.HoldBatch(batch.Count);
                foreach (var result in results.Where(result => !result.Replayed))
                {
                    metrics.UnitsHeld(result.Holds.Sum(h => h.Held));
                }

                return results;
            },
            _ => 1, options.Value.MaxHoldBatch, Workers, "PlaceHolds calls", logger);
    }

    /// <summary>Places the holds of one call, in a transaction shared with whatever calls are waiting alongside it.</summary>
    public Task<PlaceHoldsResult> PlaceAsync(PlaceHoldsCommand command, CancellationToken cancellationToken) =>
        // The batch runs on a worker, outside the caller's trace: remember the caller's span for what the batch publishes.
        // A caller that gives up does not undo the holds: its retry replays the recorded result.
        calls.CommitAsync(new Pending(command, Activity.Current?.Context ?? default), cancellationToken);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => calls.RunAsync(stoppingToken);

    private sealed record Pending(PlaceHoldsCommand Command, ActivityContext Caller);
}
