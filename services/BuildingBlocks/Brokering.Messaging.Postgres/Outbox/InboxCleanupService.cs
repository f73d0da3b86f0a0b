using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Deletes <c>inbox_state</c> rows whose outbox was delivered longer than <c>DuplicateDetectionWindow</c> ago, every
/// <c>InboxCleanupInterval</c>, in batches of <c>QueryMessageLimit</c> (several replicas may run it; deletes are idempotent).
/// </summary>
public sealed class InboxCleanupService<TDbContext> : BackgroundService
    where TDbContext : DbContext
{
    readonly ILogger _logger;
    readonly PostgresOutboxOptions<TDbContext> _options;
    readonly IServiceScopeFactory _scopeFactory;
    readonly TimeProvider _timeProvider;

    public InboxCleanupService(IServiceScopeFactory scopeFactory, IOptions<PostgresOutboxOptions<TDbContext>> options, TimeProvider timeProvider,
        ILogger<InboxCleanupService<TDbContext>> logger)
    {
        _scopeFactory = scopeFactory;
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                int removed;
                do
                {
                    removed = await CleanUp(stoppingToken).ConfigureAwait(false);
                }
                while (removed >= _options.QueryMessageLimit && !stoppingToken.IsCancellationRequested);

                await Task.Delay(_options.InboxCleanupInterval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // a failed cleanup is retried at the next interval
            catch (Exception exception)
#pragma warning restore CA1031
            {
                _logger.LogWarning(exception, "Inbox cleanup failed; retrying at the next interval");
                try
                {
                    await Task.Delay(_options.InboxCleanupInterval, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Deletes one batch of expired inbox rows; returns how many were deleted.</summary>
    public async Task<int> CleanUp(CancellationToken cancellationToken)
    {
        await using var scope = _scopeFactory.CreateAsyncScope();
        var dbContext = scope.ServiceProvider.GetRequiredService<TDbContext>();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.QueryTimeout);

        var removeBefore = _timeProvider.GetUtcNow().UtcDateTime - _options.DuplicateDetectionWindow;
        var limit = _options.QueryMessageLimit;

        var removed = await dbContext.Set<InboxState>()
            .Where(x => x.Delivered != null && x.Delivered < removeBefore)
            .OrderBy(x => x.Delivered)
            .Take(limit)
            .ExecuteDeleteAsync(timeout.Token).ConfigureAwait(false);

        if (removed > 0)
            _logger.LogDebug("Removed {Count} expired inbox rows", removed);

        return removed;
    }
}
