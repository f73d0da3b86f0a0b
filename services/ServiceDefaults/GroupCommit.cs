using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Brokering.ServiceDefaults;

/// <summary>
/// Group commit: requests that arrive side by side are taken by a few workers in batches and committed together, one
/// transaction and one round trip for the batch instead of one per request (as TigerBeetle batches transfers). A
/// worker takes whatever is waiting when it is free, so a lone request is not held back for company. A batch that
/// fails is committed again request by request, so one poisoned request does not sink the others.
/// </summary>
/// <typeparam name="TRequest">What one caller asks.</typeparam>
/// <typeparam name="TResult">What it is answered, in the order of the batch's requests.</typeparam>
public sealed class GroupCommit<TRequest, TResult>(
    Func<IReadOnlyList<TRequest>, CancellationToken, Task<IReadOnlyList<TResult>>> commit,
    Func<TRequest, int> size,
    int maxBatchSize,
    int workers,
    string what,
    ILogger logger)
{
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>();

    /// <summary>
    /// Queues the request and waits for its batch to commit. A caller that gives up does not withdraw it: the request is
    /// committed all the same, and asked again it is answered as the first time (the commit must make that so).
    /// </summary>
    public Task<TResult> CommitAsync(TRequest request, CancellationToken cancellationToken)
    {
        var pending = new Pending(request, new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!queue.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The service is shutting down.");
        }

        return pending.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs the workers until <paramref name="stoppingToken"/>; what is still queued then is cancelled.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Math.Max(1, workers)).Select(_ => RunWorkerAsync(stoppingToken)));
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
        var max = Math.Max(1, maxBatchSize);
        var batch = new List<Pending>();
        try
        {
            while (await queue.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                var taken = 0;
                while (taken < max && queue.Reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                    taken += Math.Max(1, size(pending.Request));
                }

                if (batch.Count > 0)
                {
                    await CommitBatchAsync(batch, stoppingToken);
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

    private async Task CommitBatchAsync(IReadOnlyList<Pending> batch, CancellationToken cancellationToken)
    {
        try
        {
            var results = await commit([.. batch.Select(pending => pending.Request)], cancellationToken);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(results[i]);
            }
        }
        catch (Exception exception) when (batch.Count > 1 && exception is not OperationCanceledException)
        {
            logger.LogWarning(exception, "A batch of {Count} {What} failed; committing them one by one", batch.Count, what);
            foreach (var pending in batch)
            {
                await CommitBatchAsync([pending], cancellationToken);
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

    private sealed record Pending(TRequest Request, TaskCompletionSource<TResult> Completion);
}
