using System.Diagnostics;
using System.Threading.Channels;
using Brokering.Inventory.Data;
using Microsoft.Extensions.Options;

namespace Brokering.Inventory.Holds;

/// <summary>
/// Places holds. Concurrent calls are grouped into one transaction (group commit, as TigerBeetle batches
/// transfers): a hot SKU's row lock is held through one commit's fsync for many holds instead of one. This class
/// queues the calls and hands each worker's batch to <see cref="HoldBatch"/>, which applies it in one round trip; a
/// batch that fails is retried call by call, so one poisoned call does not sink the others.
/// </summary>
internal sealed class HoldPlacer(
    InventoryTransactions transactions,
    HoldBatch holdBatch,
    IOptions<InventoryOptions> options,
    InventoryMetrics metrics,
    ILogger<HoldPlacer> logger) : BackgroundService
{
    private const int Workers = 2;

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
            var results = await transactions.RunRawAsync((unit, token) => holdBatch.PlaceAsync(unit, commands, callers, token), cancellationToken);
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

    private sealed record Pending(PlaceHoldsCommand Command, ActivityContext Caller, TaskCompletionSource<PlaceHoldsResult> Completion);
}
