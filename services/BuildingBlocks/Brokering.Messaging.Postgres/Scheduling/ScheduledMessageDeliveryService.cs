using System.Data;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Sends due <c>scheduled_message</c> rows. Each round takes up to <c>BatchSize</c> due, not cancelled rows with
/// <c>FOR UPDATE SKIP LOCKED</c> (so two replicas never take the same row), sends them (publisher-confirmed), deletes the
/// sent ones and commits. A crash between send and commit re-sends the row with the same MessageId, which the receiver's
/// inbox recognises. The due → sent lag is recorded on <see cref="MessagingMetrics"/>.
/// </summary>
public sealed class ScheduledMessageDeliveryService<TDbContext> : BackgroundService
    where TDbContext : DbContext
{
    static readonly TimeSpan HousekeepingInterval = TimeSpan.FromSeconds(30);
    static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(10);

    readonly IBus _bus;
    readonly ILogger _logger;
    readonly MessagingMetrics _metrics;
    readonly PostgresMessageSchedulerOptions _options;
    readonly IServiceScopeFactory _scopeFactory;
    readonly ScheduledMessageSignal _signal;
    readonly TimeProvider _timeProvider;
    DateTime _housekeepingAt = DateTime.MinValue;

    public ScheduledMessageDeliveryService(IBus bus, IServiceScopeFactory scopeFactory, ScheduledMessageSignal signal, MessagingMetrics metrics,
        PostgresMessageSchedulerOptions options, TimeProvider timeProvider, ILogger<ScheduledMessageDeliveryService<TDbContext>> logger)
    {
        _bus = bus;
        _scopeFactory = scopeFactory;
        _signal = signal;
        _metrics = metrics;
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    DateTime Now => _timeProvider.GetUtcNow().UtcDateTime;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var round = await DeliverDue(stoppingToken).ConfigureAwait(false);
                failures = 0;
                if (round.Taken >= _options.BatchSize)
                    continue;

                await Housekeeping(stoppingToken).ConfigureAwait(false);

                var wait = _options.PollInterval;
                if (round.NextDue is { } nextDue && nextDue - Now < wait)
                    wait = nextDue - Now;
                if (wait < MinimumWait)
                    wait = MinimumWait;

                await _signal.WaitUntilAsync(Now + wait, wait, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // the scheduler must survive any failure and try again
            catch (Exception exception)
#pragma warning restore CA1031
            {
                failures++;
                var delay = TimeSpan.FromMilliseconds(Math.Min(_options.MaxRetryDelay.TotalMilliseconds,
                    _options.MinRetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 16))));
                _logger.LogWarning(exception, "Scheduled message delivery failed (attempt {Attempt}); retrying in {Delay}", failures, delay);
                try
                {
                    await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>One delivery round; returns how many rows it took and when the next one is due.</summary>
    internal async Task<(int Taken, DateTime? NextDue)> DeliverDue(CancellationToken cancellationToken)
    {
        // From here until the loop waits again, a schedule stored by this process may be missed by the reads below.
        _signal.Awake();
        await using var scope = _scopeFactory.CreateAsyncScope();
        var dbContext = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var t = TableNames.For<ScheduledMessageRecord>(dbContext);
        var now = Now;

        await using var transaction = await dbContext.Database.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken)
            .ConfigureAwait(false);

        var due = await dbContext.Set<ScheduledMessageRecord>()
            .FromSqlRaw(ScheduledMessageSql.LockDue(t), now, _options.BatchSize)
            .AsTracking()
            .ToListAsync(cancellationToken).ConfigureAwait(false);

        var failures = new List<Exception>();
        var sent = new List<Guid>();
        if (due.Count > 0)
        {
            var results = await Task.WhenAll(due.Select(row => Send(row, cancellationToken))).ConfigureAwait(false);
            for (var i = 0; i < due.Count; i++)
            {
                if (results[i] is { } failure)
                {
                    due[i].Attempts++;
                    due[i].LastError = Truncate(failure.Message, 2000);
                    failures.Add(failure);
                }
                else
                    sent.Add(due[i].TokenId);
            }

            if (sent.Count > 0)
            {
                await dbContext.Set<ScheduledMessageRecord>().Where(x => sent.Contains(x.TokenId))
                    .ExecuteDeleteAsync(CancellationToken.None).ConfigureAwait(false);
                foreach (var row in due.Where(x => sent.Contains(x.TokenId)))
                    dbContext.Entry(row).State = EntityState.Detached;
            }

            await dbContext.SaveChangesAsync(CancellationToken.None).ConfigureAwait(false);
        }

        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);

        if (sent.Count > 0)
        {
            var sentAt = Now;
            foreach (var row in due.Where(x => sent.Contains(x.TokenId)))
                _metrics.RecordSchedulerLag(sentAt - row.DueAt);
            _metrics.ScheduledDelivered(sent.Count);
        }

        if (failures.Count > 0 && sent.Count == 0)
            throw new AggregateException("No due scheduled message could be sent; will retry", failures);

        var nextDue = await dbContext.Set<ScheduledMessageRecord>()
            .Where(x => x.CancelledAt == null)
            .MinAsync(x => (DateTime?)x.DueAt, cancellationToken).ConfigureAwait(false);

        return (due.Count, nextDue);
    }

    async Task<Exception?> Send(ScheduledMessageRecord row, CancellationToken cancellationToken)
    {
        if (row.DestinationAddress is null)
            return new InvalidOperationException($"Scheduled message {row.TokenId} has no destination");

        try
        {
            var message = StoredMessageContext.From(row, SystemTextJsonMessageSerializer.Instance);
            await BusOutboxDeliveryService<TDbContext>.Relay(_bus, message, row.DestinationAddress, _options.MessageDeliveryTimeout, cancellationToken)
                .ConfigureAwait(false);
            return null;
        }
#pragma warning disable CA1031 // recorded on the row and retried
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _logger.LogWarning(exception, "Sending scheduled message {TokenId} to {Destination} failed", row.TokenId, row.DestinationAddress);
            return exception;
        }
    }

    async Task Housekeeping(CancellationToken cancellationToken)
    {
        var now = Now;
        if (now - _housekeepingAt < HousekeepingInterval)
            return;

        _housekeepingAt = now;
        await using var scope = _scopeFactory.CreateAsyncScope();
        var dbContext = scope.ServiceProvider.GetRequiredService<TDbContext>();

        var removeBefore = now - _options.CancelledRetention;
        await dbContext.Set<ScheduledMessageRecord>()
            .Where(x => x.CancelledAt != null && x.CancelledAt < removeBefore)
            .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);

        _metrics.SetScheduledPending(await dbContext.Set<ScheduledMessageRecord>().LongCountAsync(x => x.CancelledAt == null, cancellationToken)
            .ConfigureAwait(false));
    }

    static string Truncate(string value, int length) => value.Length <= length ? value : value[..length];
}
