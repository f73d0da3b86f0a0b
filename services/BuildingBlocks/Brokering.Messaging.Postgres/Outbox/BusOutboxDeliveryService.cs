using System.Data;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Relays <c>outbox_message</c> rows to the broker. Each round is two round trips on a bare connection: one statement
/// locks up to <c>QueryMessageLimit</c> outboxes (<c>outbox_state … FOR UPDATE SKIP LOCKED</c>, so replicas share the
/// work and one source is relayed by one replica at a time) and reads their messages; then, once every outbox's
/// messages were sent (in sequence order within an outbox, all outboxes at once, so their publisher confirms are
/// awaited in parallel), what the broker confirmed is deleted and the transaction committed in one batch. A refused send keeps the row and its successors; the service backs off (doubling up to
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
                failures = 0;
                // A full round may have left more behind: go again at once. A partial one took everything there was,
                // so no empty round follows it; new rows committed in this process wake the relay.
                if (processed >= _options.QueryMessageLimit)
                    continue;

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
        var tables = new OutboxTables(TableNames.For<OutboxState>(dbContext), TableNames.For<OutboxMessage>(dbContext));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.QueryTimeout);

        // A bare connection, BEGIN sent with the claim and COMMIT with the deletes: a connection given back to the pool
        // inside the transaction (a failure in between) is rolled back by Npgsql.
        await dbContext.Database.OpenConnectionAsync(timeout.Token).ConfigureAwait(false);
        var connection = (NpgsqlConnection)dbContext.Database.GetDbConnection();

        var outboxes = new List<(Guid OutboxId, List<OutboxMessage> Messages)>();
        await using (var claim = connection.CreateBatch())
        {
            claim.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN ISOLATION LEVEL READ COMMITTED"));
            // The outbox tables hold few live rows and many dead ones (every row is deleted once relayed): costed on those
            // statistics, the claim read both tables whole, dead rows and all, every round. Oldest first by the index, the
            // messages by theirs. And one plan per connection for the claim and the deletes, which find their rows so
            // (costed anew for each round's ids, the deletes were planned at every round, at more cost than their run).
            KeyLookups.Begin(claim);
            var select = new NpgsqlBatchCommand(OutboxSql.ClaimOutboxes(tables));
            select.Parameters.Add(new NpgsqlParameter { Value = _options.QueryMessageLimit });
            claim.BatchCommands.Add(select);
            await using var reader = await claim.ExecuteReaderAsync(timeout.Token).ConfigureAwait(false);
            while (await reader.ReadAsync(timeout.Token).ConfigureAwait(false))
            {
                var outboxId = reader.GetGuid(0);
                if (outboxes.Count == 0 || outboxes[^1].OutboxId != outboxId)
                    outboxes.Add((outboxId, []));
                if (!reader.IsDBNull(1))
                    outboxes[^1].Messages.Add(OutboxSql.ReadMessage(reader, outboxId));
            }
        }

        if (outboxes.Count == 0)
        {
            await using var commit = new NpgsqlCommand("COMMIT", connection);
            await commit.ExecuteNonQueryAsync(timeout.Token).ConfigureAwait(false);
            return 0;
        }

        var results = await Task.WhenAll(outboxes.Select(outbox => RelayInOrder(outbox.Messages.Take(_options.MessageDeliveryLimit).ToList(),
            outbox.Messages.Count <= _options.MessageDeliveryLimit, cancellationToken))).ConfigureAwait(false);

        var sent = new List<long>();
        var completed = new List<Guid>();
        var progressed = new List<(Guid OutboxId, long LastSequenceNumber)>();
        Exception? failure = null;
        for (var i = 0; i < outboxes.Count; i++)
        {
            var result = results[i];
            sent.AddRange(result.Sent);
            failure ??= result.Failure;

            if (result.Complete)
                completed.Add(outboxes[i].OutboxId);
            else if (result.Sent.Count > 0)
                progressed.Add((outboxes[i].OutboxId, result.Sent[^1]));
        }

        // The broker confirmed these: remove them (and finished outboxes) in the same transaction that held the locks.
        await using (var finish = connection.CreateBatch())
        {
            OutboxSql.AddFinish(finish, tables, sent, completed, progressed);
            finish.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            await finish.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }

        if (sent.Count > 0)
            _metrics.OutboxDelivered(sent.Count);

        if (failure is not null)
            throw new OutboxRelayException($"{sent.Count} outbox message(s) relayed, then the broker refused one; will retry", failure);

        return outboxes.Count;
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
    static readonly string[] MessageColumns =
    [
        nameof(OutboxMessage.SequenceNumber), nameof(OutboxMessage.MessageId), nameof(OutboxMessage.SentTime), nameof(OutboxMessage.EnqueueTime),
        nameof(OutboxMessage.ExpirationTime), nameof(OutboxMessage.Headers), nameof(OutboxMessage.Properties), nameof(OutboxMessage.ContentType),
        nameof(OutboxMessage.MessageType), nameof(OutboxMessage.Body), nameof(OutboxMessage.ConversationId), nameof(OutboxMessage.CorrelationId),
        nameof(OutboxMessage.InitiatorId), nameof(OutboxMessage.RequestId), nameof(OutboxMessage.SourceAddress),
        nameof(OutboxMessage.DestinationAddress), nameof(OutboxMessage.ResponseAddress), nameof(OutboxMessage.FaultAddress),
    ];

    /// <summary>
    /// Locks up to $1 outboxes, oldest first, skipping those another relay holds, and returns their messages in sequence
    /// order: one row per message, or one row with null message columns for an outbox that has none left.
    /// </summary>
    public static string ClaimOutboxes(OutboxTables t)
    {
        var s = t.State;
        var m = t.Message;
        return $"WITH s AS MATERIALIZED (SELECT {s.Column(nameof(OutboxState.OutboxId))} AS outbox_id, {s.Column(nameof(OutboxState.Created))} AS created " +
            $"FROM {s.Name} ORDER BY {s.Column(nameof(OutboxState.Created))} LIMIT $1 FOR UPDATE SKIP LOCKED) " +
            $"SELECT s.outbox_id, {string.Join(", ", MessageColumns.Select(c => "m." + m.Column(c)))} " +
            $"FROM s LEFT JOIN {m.Name} m ON m.{m.Column(nameof(OutboxMessage.OutboxId))} = s.outbox_id " +
            $"ORDER BY s.created, s.outbox_id, m.{m.Column(nameof(OutboxMessage.SequenceNumber))}";
    }

    /// <summary>Reads the message columns of a <see cref="ClaimOutboxes"/> row (from ordinal 1).</summary>
    public static OutboxMessage ReadMessage(NpgsqlDataReader reader, Guid outboxId) => new()
    {
        OutboxId = outboxId,
        SequenceNumber = reader.GetInt64(1),
        MessageId = reader.GetGuid(2),
        SentTime = reader.GetDateTime(3),
        EnqueueTime = reader.IsDBNull(4) ? null : reader.GetDateTime(4),
        ExpirationTime = reader.IsDBNull(5) ? null : reader.GetDateTime(5),
        Headers = reader.IsDBNull(6) ? null : reader.GetString(6),
        Properties = reader.IsDBNull(7) ? null : reader.GetString(7),
        ContentType = reader.GetString(8),
        MessageType = reader.GetString(9),
        Body = reader.GetString(10),
        ConversationId = reader.IsDBNull(11) ? null : reader.GetGuid(11),
        CorrelationId = reader.IsDBNull(12) ? null : reader.GetGuid(12),
        InitiatorId = reader.IsDBNull(13) ? null : reader.GetGuid(13),
        RequestId = reader.IsDBNull(14) ? null : reader.GetGuid(14),
        SourceAddress = Address(reader, 15),
        DestinationAddress = Address(reader, 16),
        ResponseAddress = Address(reader, 17),
        FaultAddress = Address(reader, 18),
    };

    static Uri? Address(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : new Uri(reader.GetString(ordinal), UriKind.RelativeOrAbsolute);

    /// <summary>Deletes the confirmed messages and the finished outboxes, and records how far the others got.</summary>
    public static void AddFinish(NpgsqlBatch batch, OutboxTables t, List<long> sent, List<Guid> completed, List<(Guid OutboxId, long LastSequenceNumber)> progressed)
    {
        var s = t.State;
        var m = t.Message;
        if (sent.Count > 0)
        {
            var delete = new NpgsqlBatchCommand($"DELETE FROM {m.Name} WHERE {m.Column(nameof(OutboxMessage.SequenceNumber))} = ANY($1)");
            delete.Parameters.Add(new NpgsqlParameter { Value = sent.ToArray() });
            batch.BatchCommands.Add(delete);
        }

        if (completed.Count > 0)
        {
            var delete = new NpgsqlBatchCommand($"DELETE FROM {s.Name} WHERE {s.Column(nameof(OutboxState.OutboxId))} = ANY($1)");
            delete.Parameters.Add(new NpgsqlParameter { Value = completed.ToArray() });
            batch.BatchCommands.Add(delete);
        }

        if (progressed.Count > 0)
        {
            var update = new NpgsqlBatchCommand(
                $"UPDATE {s.Name} SET {s.Column(nameof(OutboxState.LastSequenceNumber))} = u.last FROM unnest($1::uuid[], $2::bigint[]) AS u(id, last) " +
                $"WHERE {s.Column(nameof(OutboxState.OutboxId))} = u.id");
            update.Parameters.Add(new NpgsqlParameter { Value = progressed.Select(x => x.OutboxId).ToArray() });
            update.Parameters.Add(new NpgsqlParameter { Value = progressed.Select(x => x.LastSequenceNumber).ToArray() });
            batch.BatchCommands.Add(update);
        }
    }

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
