using System.Data;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Relays <c>outbox_message</c> rows to the broker. Each round locks up to <c>QueryMessageLimit</c> outboxes
/// (<c>outbox_state … FOR UPDATE SKIP LOCKED</c>, so replicas share the work and one source is relayed by one replica at
/// a time), sends each outbox's messages in sequence order (different outboxes in parallel), deletes what the broker
/// confirmed and commits. A refused send keeps the row and its successors; the service backs off (doubling up to
/// <c>MaxRetryDelay</c>) and tries again until the broker is back. It also relays consumer outboxes whose inline delivery
/// never completed (see <see cref="PostgresOutboxConfigurator.StrandedConsumerOutboxAfter"/>).
/// </summary>
public sealed class BusOutboxDeliveryService<TDbContext> : BackgroundService
    where TDbContext : DbContext
{
    static readonly TimeSpan BacklogRefreshInterval = TimeSpan.FromSeconds(5);

    readonly IBus _bus;
    readonly ILogger _logger;
    readonly MessagingMetrics _metrics;
    readonly OutboxNotification _notification;
    readonly PostgresOutboxOptions<TDbContext> _options;
    readonly IServiceScopeFactory _scopeFactory;
    readonly TimeProvider _timeProvider;
    DateTime _backlogRefreshedAt = DateTime.MinValue;
    DateTime _strandedCheckedAt = DateTime.MinValue;

    public BusOutboxDeliveryService(IBus bus, IServiceScopeFactory scopeFactory, OutboxNotification notification, MessagingMetrics metrics,
        IOptions<PostgresOutboxOptions<TDbContext>> options, TimeProvider timeProvider, ILogger<BusOutboxDeliveryService<TDbContext>> logger)
    {
        _bus = bus;
        _scopeFactory = scopeFactory;
        _notification = notification;
        _metrics = metrics;
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var processed = await DeliverBusOutboxes(stoppingToken).ConfigureAwait(false);
                if (processed > 0)
                {
                    failures = 0;
                    continue;
                }

                failures = 0;
                if (Now - _strandedCheckedAt >= StrandedCheckInterval())
                {
                    processed = await DeliverStrandedConsumerOutboxes(stoppingToken).ConfigureAwait(false);
                    if (processed > 0)
                        continue;

                    _strandedCheckedAt = Now;
                }

                await RefreshBacklog(stoppingToken).ConfigureAwait(false);
                await _notification.WaitAsync(_options.QueryDelay, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // the relay must survive any failure and try again
            catch (Exception exception)
#pragma warning restore CA1031
            {
                failures++;
                var delay = Backoff(failures);
                _logger.LogWarning(exception, "Outbox relay failed (attempt {Attempt}); retrying in {Delay}", failures, delay);
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

    TimeSpan Backoff(int failures)
    {
        var factor = Math.Pow(2, Math.Min(failures - 1, 16));
        var delay = TimeSpan.FromMilliseconds(_options.MinRetryDelay.TotalMilliseconds * factor);
        return delay < _options.MaxRetryDelay ? delay : _options.MaxRetryDelay;
    }

    DateTime Now => _timeProvider.GetUtcNow().UtcDateTime;

    /// <summary>Stranded consumer outboxes are rare: look for them a few times per <c>StrandedConsumerOutboxAfter</c>.</summary>
    TimeSpan StrandedCheckInterval()
    {
        var interval = _options.StrandedConsumerOutboxAfter / 4;
        return interval > _options.QueryDelay ? interval : _options.QueryDelay;
    }

    async Task<int> DeliverBusOutboxes(CancellationToken cancellationToken)
    {
        await using var scope = _scopeFactory.CreateAsyncScope();
        var dbContext = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var stateTable = TableNames.For<OutboxState>(dbContext);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.QueryTimeout);

        await using var transaction = await dbContext.Database.BeginTransactionAsync(IsolationLevel.ReadCommitted, timeout.Token).ConfigureAwait(false);

        var states = await dbContext.Set<OutboxState>()
            .FromSqlRaw(OutboxSql.LockOutboxStates(stateTable), _options.QueryMessageLimit)
            .AsTracking()
            .ToListAsync(timeout.Token).ConfigureAwait(false);

        if (states.Count == 0)
        {
            await transaction.CommitAsync(timeout.Token).ConfigureAwait(false);
            return 0;
        }

        var outboxIds = states.Select(x => (Guid?)x.OutboxId).ToList();
        var messages = await dbContext.Set<OutboxMessage>()
            .Where(x => outboxIds.Contains(x.OutboxId))
            .OrderBy(x => x.SequenceNumber)
            .AsNoTracking()
            .ToListAsync(timeout.Token).ConfigureAwait(false);

        var byOutbox = messages.ToLookup(x => x.OutboxId!.Value);
        var results = await Task.WhenAll(states.Select(state => RelayInOrder(byOutbox[state.OutboxId].Take(_options.MessageDeliveryLimit).ToList(),
            byOutbox[state.OutboxId].Count() <= _options.MessageDeliveryLimit, cancellationToken))).ConfigureAwait(false);

        var sent = new List<long>();
        var completed = new List<Guid>();
        Exception? failure = null;
        for (var i = 0; i < states.Count; i++)
        {
            var result = results[i];
            sent.AddRange(result.Sent);
            failure ??= result.Failure;

            if (result.Complete)
                completed.Add(states[i].OutboxId);
            else if (result.Sent.Count > 0)
                states[i].LastSequenceNumber = result.Sent[^1];
        }

        // The broker confirmed these: remove them (and finished outboxes) in the same transaction that held the locks.
        if (sent.Count > 0)
        {
            await dbContext.Set<OutboxMessage>().Where(x => sent.Contains(x.SequenceNumber))
                .ExecuteDeleteAsync(CancellationToken.None).ConfigureAwait(false);
        }

        if (completed.Count > 0)
        {
            await dbContext.Set<OutboxState>().Where(x => completed.Contains(x.OutboxId))
                .ExecuteDeleteAsync(CancellationToken.None).ConfigureAwait(false);
            foreach (var state in states.Where(x => completed.Contains(x.OutboxId)))
                dbContext.Entry(state).State = EntityState.Detached;
        }

        await dbContext.SaveChangesAsync(CancellationToken.None).ConfigureAwait(false);
        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);

        if (sent.Count > 0)
            _metrics.OutboxDelivered(sent.Count);

        if (failure is not null)
            throw new OutboxRelayException($"{sent.Count} outbox message(s) relayed, then the broker refused one; will retry", failure);

        return states.Count;
    }

    async Task<int> DeliverStrandedConsumerOutboxes(CancellationToken cancellationToken)
    {
        await using var scope = _scopeFactory.CreateAsyncScope();
        var dbContext = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var t = TableNames.For<InboxState>(dbContext);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.QueryTimeout);

        await using var transaction = await dbContext.Database.BeginTransactionAsync(IsolationLevel.ReadCommitted, timeout.Token).ConfigureAwait(false);

        var cutoff = Now - _options.StrandedConsumerOutboxAfter;
        var inboxes = await dbContext.Set<InboxState>()
            .FromSqlRaw(OutboxSql.LockStrandedInboxes(t), cutoff)
            .AsTracking()
            .ToListAsync(timeout.Token).ConfigureAwait(false);

        Exception? failure = null;
        foreach (var inbox in inboxes)
        {
            var last = inbox.LastSequenceNumber ?? 0;
            var messages = await dbContext.Set<OutboxMessage>()
                .Where(x => x.InboxMessageId == inbox.MessageId && x.InboxConsumerId == inbox.ConsumerId && x.SequenceNumber > last)
                .OrderBy(x => x.SequenceNumber)
                .AsNoTracking()
                .ToListAsync(timeout.Token).ConfigureAwait(false);

            var result = await RelayInOrder(messages, complete: true, cancellationToken).ConfigureAwait(false);
            if (result.Sent.Count > 0)
                inbox.LastSequenceNumber = result.Sent[^1];

            if (result.Complete)
            {
                inbox.Delivered = Now;
                var messageId = inbox.MessageId;
                var consumerId = inbox.ConsumerId;
                await dbContext.Set<OutboxMessage>().Where(x => x.InboxMessageId == messageId && x.InboxConsumerId == consumerId)
                    .ExecuteDeleteAsync(CancellationToken.None).ConfigureAwait(false);
                _logger.LogInformation("Relayed the stranded outbox of message {MessageId} ({Count} message(s))", messageId, result.Sent.Count);
            }
            else
            {
                failure = result.Failure;
                break;
            }
        }

        await dbContext.SaveChangesAsync(CancellationToken.None).ConfigureAwait(false);
        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);

        if (failure is not null)
            throw new OutboxRelayException("Relaying a stranded consumer outbox failed; will retry", failure);

        return inboxes.Count;
    }

    async Task<RelayResult> RelayInOrder(List<OutboxMessage> messages, bool complete, CancellationToken cancellationToken)
    {
        var sent = new List<long>(messages.Count);
        var now = Now;
        foreach (var message in messages)
        {
            if (message.DestinationAddress is null || message.ExpirationTime < now)
            {
                _logger.LogWarning("Outbox message {MessageId} (#{SequenceNumber}) dropped: {Reason}", message.MessageId, message.SequenceNumber,
                    message.DestinationAddress is null ? "no destination address" : "expired before it could be relayed");
                sent.Add(message.SequenceNumber);
                continue;
            }

            try
            {
                await Relay(_bus, StoredMessageContext.From(message, SystemTextJsonMessageSerializer.Instance), message.DestinationAddress,
                    _options.MessageDeliveryTimeout, cancellationToken).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // reported to the caller, which commits the progress made and backs off
            catch (Exception exception)
#pragma warning restore CA1031
            {
                return new RelayResult(sent, false, exception);
            }

            sent.Add(message.SequenceNumber);
        }

        return new RelayResult(sent, complete, null);
    }

    internal static async Task Relay(IBus bus, OutboxMessageContext message, Uri destination, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var sendTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        sendTimeout.CancelAfter(timeout);
        using var relay = MessagingTracing.StartRelay(message, destination);

        var endpoint = await bus.GetSendEndpoint(destination).ConfigureAwait(false);
        await endpoint.Send(new SerializedMessageBody(), new OutboxMessageSendPipe(message, destination), sendTimeout.Token).ConfigureAwait(false);
    }

    async Task RefreshBacklog(CancellationToken cancellationToken)
    {
        var now = Now;
        if (now - _backlogRefreshedAt < BacklogRefreshInterval)
            return;

        _backlogRefreshedAt = now;
        await using var scope = _scopeFactory.CreateAsyncScope();
        var dbContext = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var backlog = await dbContext.Set<OutboxMessage>().GroupBy(x => 1)
            .Select(g => new { Count = g.LongCount(), Oldest = g.Min(x => x.SentTime) })
            .SingleOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        _metrics.SetOutboxBacklog(backlog?.Count ?? 0);
        _metrics.SetOutboxOldestAge(backlog is null ? TimeSpan.Zero : now - backlog.Oldest);
    }

    readonly record struct RelayResult(List<long> Sent, bool Complete, Exception? Failure);
}

/// <summary>SQL over the mapped (quoted) table and column names; values are always parameters.</summary>
static class OutboxSql
{
    public static string LockOutboxStates(MappedTable t) =>
        $"SELECT * FROM {t.Name} ORDER BY {t.Column(nameof(OutboxState.Created))} LIMIT {{0}} FOR UPDATE SKIP LOCKED";

    public static string LockStrandedInboxes(MappedTable t) =>
        $"SELECT * FROM {t.Name} WHERE {t.Column(nameof(InboxState.Delivered))} IS NULL AND {t.Column(nameof(InboxState.Consumed))} < {{0}} " +
        $"ORDER BY {t.Column(nameof(InboxState.Consumed))} LIMIT 10 FOR UPDATE SKIP LOCKED";
}

/// <summary>The broker refused a relay; the rows stay and the relay is retried.</summary>
public sealed class OutboxRelayException : Exception
{
    public OutboxRelayException()
    {
    }

    public OutboxRelayException(string message)
        : base(message)
    {
    }

    public OutboxRelayException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
