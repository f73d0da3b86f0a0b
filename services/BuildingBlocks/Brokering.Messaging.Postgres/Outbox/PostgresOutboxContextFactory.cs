using System.Data;
using System.Diagnostics;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Storage;
using NpgsqlTypes;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// MassTransit's <see cref="IOutboxContextFactory{TContext}"/> on PostgreSQL: runs each consumption inside one
/// READ COMMITTED transaction of the scope's <typeparamref name="TDbContext"/>, holding the inbox row
/// (<c>inbox_state</c>, locked <c>FOR UPDATE</c>) for the duration. The consumer's entity changes, the saga's new state,
/// the messages it produced and the inbox record commit together; consumers must not call <c>SaveChanges</c> themselves.
/// </summary>
/// <remarks>
/// Rounds (driven by MassTransit's <see cref="OutboxMessagePipe{TMessage}"/>): 1) consume, commit; 2) relay the captured
/// messages to the broker, mark delivered, delete them; 3) acknowledge. Right after this call's own commit, round 2
/// relays the messages it still holds in memory, without a transaction, and then marks the inbox row delivered and
/// deletes the rows in one statement batch: a crash in between leaves them for a redelivery of the message (which
/// relays them from the database under the inbox row's lock) or for the stranded-outbox sweep, exactly as before, and
/// at worst a message goes out twice, which every consumer already tolerates. A redelivered message whose inbox row
/// says "consumed" skips round 1, so its effects happen once.
/// </remarks>
public sealed class PostgresOutboxContextFactory<TDbContext> : IOutboxContextFactory<TDbContext>
    where TDbContext : DbContext
{
    readonly TDbContext _dbContext;
    readonly IServiceProvider _provider;
    readonly TimeProvider _timeProvider;

    public PostgresOutboxContextFactory(TDbContext dbContext, IServiceProvider provider, TimeProvider timeProvider)
    {
        _dbContext = dbContext;
        _provider = provider;
        _timeProvider = timeProvider;
    }

    public async Task Send<T>(ConsumeContext<T> context, OutboxConsumeOptions options, IPipe<OutboxConsumeContext<T>> next)
        where T : class
    {
        // A message without a MessageId (raw JSON from a foreign producer) cannot be recognised when redelivered: it still
        // gets the transaction and the outbox, under a fresh id, but no duplicate detection.
        var messageId = InboxMessageId(context) ?? NewId.NextGuid();

        var firstRound = true;
        InboxState? deliveredHere = null;
        (InboxState Inbox, IReadOnlyList<OutboxMessage> Messages)? capturedHere = null;
        var continueProcessing = true;

        while (continueProcessing)
        {
            if (capturedHere is { } captured)
            {
                capturedHere = null;
                var delivery = new PostgresOutboxConsumeContext<TDbContext, T>(context, options, _provider, _dbContext, captured.Inbox, _timeProvider,
                    completionOnly: false, capturedEarlier: captured.Messages);
                await next.Send(delivery).ConfigureAwait(false);
                await RecordDeliveryAsync(captured.Inbox, context.CancellationToken).ConfigureAwait(false);
                continueProcessing = delivery.ContinueProcessing;
                if (continueProcessing && captured.Inbox.Delivered.HasValue)
                    deliveredHere = captured.Inbox;
                continue;
            }

            if (deliveredHere is not null)
            {
                // This call itself committed "delivered": finish without another transaction.
                var completion = new PostgresOutboxConsumeContext<TDbContext, T>(context, options, _provider, _dbContext, deliveredHere, _timeProvider,
                    completionOnly: true);
                await next.Send(completion).ConfigureAwait(false);
                continueProcessing = completion.ContinueProcessing;
                deliveredHere = null;
                continue;
            }

            var countReceive = firstRound;
            firstRound = false;

            var strategy = _dbContext.Database.CreateExecutionStrategy();
            var round = await strategy.ExecuteAsync(() => ExecuteRound(context, options, next, messageId, countReceive)).ConfigureAwait(false);

            continueProcessing = round.ContinueProcessing;
            if (continueProcessing && round.Inbox.Delivered.HasValue && round.WasDeliveredInRound)
                deliveredHere = round.Inbox;
            else if (continueProcessing && round.Captured.Count > 0 && !round.Inbox.Delivered.HasValue)
                capturedHere = (round.Inbox, round.Captured);
        }
    }

    async Task<RoundResult> ExecuteRound<T>(ConsumeContext<T> context, OutboxConsumeOptions options, IPipe<OutboxConsumeContext<T>> next,
        Guid messageId, bool countReceive)
        where T : class
    {
        var timer = Stopwatch.StartNew();
        var inboxTable = TableNames.For<InboxState>(_dbContext);
        var now = _timeProvider.GetUtcNow().UtcDateTime;

        await using var transaction = await _dbContext.Database.BeginTransactionAsync(IsolationLevel.ReadCommitted, context.CancellationToken)
            .ConfigureAwait(false);
        // A failed save ends the round (rolled back and retried whole), so EF's savepoint around every save in it would be
        // two round trips for nothing; the one place that goes on after a failed save (the saga's racing insert) takes
        // its own savepoint.
        _dbContext.Database.AutoSavepointsEnabled = false;
        try
        {
            // First delivery: insert the inbox row; a row this transaction inserted is invisible to, and blocks, every other
            // (a racing duplicate waits on the unique key until this one commits). Otherwise, or when the insert found the
            // row already there, lock it. Either way the row is held for the rest of the transaction. A row inserted here
            // already counts this delivery (receive_count 1), so a consume that changes nothing else on it updates nothing.
            InboxState? inbox = null;
            // Set when this round inserted the row: the marks it was stored with (see HideStoredMarks).
            DateTime? storedMark = null;
            if (countReceive)
            {
                inbox = await InsertInboxRow(inboxTable, messageId, options.ConsumerId, now, ToUtc(context.ExpirationTime), context.CancellationToken)
                    .ConfigureAwait(false);
                if (inbox is not null)
                    storedMark = HideStoredMarks(inbox);
            }
            else
            {
                // Re-read the row under the lock rather than trust the copy tracked by the previous round.
                foreach (var entry in _dbContext.ChangeTracker.Entries<InboxState>().ToList())
                    entry.State = EntityState.Detached;
            }

            inbox ??= await LockInboxRow(inboxTable, messageId, options.ConsumerId, context.CancellationToken).ConfigureAwait(false);

            if (countReceive && storedMark is null)
                inbox.ReceiveCount++;

            var wasDelivered = inbox.Delivered.HasValue;

            var outboxContext = new PostgresOutboxConsumeContext<TDbContext, T>(context, options, _provider, _dbContext, inbox, _timeProvider,
                completionOnly: false);

            await next.Send(outboxContext).ConfigureAwait(false);
            if (storedMark is { } stored)
                KeepStoredMarks(inbox, stored);

            try
            {
                await _dbContext.SaveChangesAsync(context.CancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(context.CancellationToken).ConfigureAwait(false);
                if (outboxContext.EarliestStoredDue is { } dueAt)
                    (_provider.GetService(typeof(ScheduledMessageSignal)) as ScheduledMessageSignal)?.Notify(dueAt);
            }
            catch (Exception exception)
            {
                await context.NotifyFaulted(timer.Elapsed, TypeCache<T>.ShortName, exception).ConfigureAwait(false);
                throw;
            }

            return new RoundResult(outboxContext.ContinueProcessing, inbox, !wasDelivered && inbox.Delivered.HasValue, outboxContext.Captured);
        }
        catch (Exception)
        {
            try
            {
                await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // the original exception is the one worth reporting
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            throw;
        }
    }

    /// <summary>
    /// Inserts the inbox row of a first delivery (see <see cref="InboxSql.Insert"/>) and tracks it as stored; null when
    /// the row was there already. A plain command on the round's transaction rather than <c>FromSql</c>, whose SQL EF
    /// generates again on every execution under a shared lock (see <see cref="RowLockInterceptor"/>): this statement
    /// runs once for every message consumed.
    /// </summary>
    async Task<InboxState?> InsertInboxRow(MappedTable inboxTable, Guid messageId, Guid consumerId, DateTime now, DateTime? expirationTime,
        CancellationToken cancellationToken)
    {
        var connection = (Npgsql.NpgsqlConnection)_dbContext.Database.GetDbConnection();
        await using var command = new Npgsql.NpgsqlCommand(InboxSql.Insert(inboxTable), connection)
        {
            Transaction = (Npgsql.NpgsqlTransaction?)_dbContext.Database.CurrentTransaction?.GetDbTransaction(),
        };
        command.Parameters.Add(new() { Value = messageId, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = consumerId, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = NewId.NextGuid(), NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = now, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = (object?)expirationTime ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });

        InboxState inbox;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                return null;

            // The values as stored (timestamps at PostgreSQL's precision), in InboxSql.Insert's column order.
            inbox = new InboxState
            {
                Id = reader.GetInt64(0),
                MessageId = reader.GetGuid(1),
                ConsumerId = reader.GetGuid(2),
                LockId = reader.GetGuid(3),
                Received = reader.GetDateTime(4),
                ReceiveCount = reader.GetInt32(5),
                ExpirationTime = reader.IsDBNull(6) ? null : reader.GetDateTime(6),
                Consumed = reader.IsDBNull(7) ? null : reader.GetDateTime(7),
                Delivered = reader.IsDBNull(8) ? null : reader.GetDateTime(8),
                LastSequenceNumber = reader.IsDBNull(9) ? null : reader.GetInt64(9),
            };
        }

        // A copy of the row tracked by an earlier attempt of this round (rolled back since) would clash with this one.
        foreach (var stale in _dbContext.ChangeTracker.Entries<InboxState>().Where(entry => entry.Entity.MessageId == messageId
                     && entry.Entity.ConsumerId == consumerId).ToList())
            stale.State = EntityState.Detached;

        _dbContext.Attach(inbox);
        return inbox;
    }

    // By a LINQ query whose SQL EF keeps, where the context has the interceptor that locks it (see RowLockInterceptor).
    Task<InboxState> LockInboxRow(MappedTable inboxTable, Guid messageId, Guid consumerId, CancellationToken cancellationToken) =>
        RowLockInterceptor.IsRegistered(_dbContext)
            ? _dbContext.Set<InboxState>()
                .TagWith(RowLockInterceptor.Tag)
                .Where(row => row.MessageId == messageId && row.ConsumerId == consumerId)
                .AsTracking()
                .SingleAsync(cancellationToken)
            : _dbContext.Set<InboxState>()
                .FromSqlRaw(InboxSql.Lock(inboxTable), messageId, consumerId)
                .AsTracking()
                .SingleAsync(cancellationToken);

    /// <summary>
    /// A row this round inserted is stored consumed and delivered (see <see cref="InboxSql.Insert"/>), which only becomes
    /// visible, and true, when the round commits with the consumer's effects (a rollback takes the row with it). To the
    /// pipe, and to EF (so a save in the middle of the consume writes nothing to it), the row is one not consumed yet.
    /// </summary>
    DateTime HideStoredMarks(InboxState inbox)
    {
        var stored = inbox.Consumed ?? throw new InvalidOperationException("An inbox row inserted by this round is stored consumed.");
        foreach (var mark in Marks(inbox))
        {
            mark.OriginalValue = null;
            mark.CurrentValue = null;
            mark.IsModified = false;
        }

        return stored;
    }

    /// <summary>
    /// After the consume: where it set a mark too, the stored one stands and the row needs no UPDATE; a mark it left unset
    /// (messages captured: not delivered yet) is written unset.
    /// </summary>
    void KeepStoredMarks(InboxState inbox, DateTime stored)
    {
        foreach (var mark in Marks(inbox))
        {
            var setByConsume = mark.CurrentValue is not null;
            mark.OriginalValue = stored;
            if (setByConsume)
                mark.CurrentValue = stored;
            mark.IsModified = !setByConsume;
        }
    }

    PropertyEntry<InboxState, DateTime?>[] Marks(InboxState inbox)
    {
        var entry = _dbContext.Entry(inbox);
        return [entry.Property(x => x.Consumed), entry.Property(x => x.Delivered)];
    }

    // A message redelivered through the scheduler carries a new MessageId and its first one in MT-OriginalMessageId, so
    // the inbox knows it by the original. Not so the scheduler's own commands: MassTransit's scheduled redelivery copies
    // the redelivered message's headers (MT-OriginalMessageId among them) onto the ScheduleMessage envelope, where they
    // describe the payload, not the command. Keyed by that header, the second redelivery of one message would look like
    // a duplicate of the first and be dropped; each ScheduleMessage is its own command, known by its own MessageId.
    static Guid? InboxMessageId<T>(ConsumeContext<T> context)
        where T : class =>
        context.Message is ScheduleMessage or CancelScheduledMessage ? context.MessageId : context.GetOriginalMessageId();

    static DateTime? ToUtc(DateTime? value) => value is { } v ? OutboxMessageFactory.Utc(v) : null;

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateFilterScope("outboxContextFactory");
        scope.Add("provider", "postgresql");
    }

    /// <summary>
    /// After relaying from memory: what was relayed is recorded on the inbox row and its rows deleted, in one batch (one
    /// implicit transaction). Only the rows relayed are deleted; if the delivery limit left some, the next round relays
    /// them from the database as usual.
    /// </summary>
    async Task RecordDeliveryAsync(InboxState inbox, CancellationToken cancellationToken)
    {
        var inboxTable = TableNames.For<InboxState>(_dbContext);
        var outboxTable = TableNames.For<OutboxMessage>(_dbContext);
        var connection = (Npgsql.NpgsqlConnection)_dbContext.Database.GetDbConnection();
        var opened = connection.State != ConnectionState.Open;
        if (opened)
            await _dbContext.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var batch = new Npgsql.NpgsqlBatch(connection);
            var delete = new Npgsql.NpgsqlBatchCommand(
                $"DELETE FROM {outboxTable.Name} WHERE {outboxTable.Column(nameof(OutboxMessage.InboxMessageId))} = $1 " +
                $"AND {outboxTable.Column(nameof(OutboxMessage.InboxConsumerId))} = $2 AND {outboxTable.Column(nameof(OutboxMessage.SequenceNumber))} <= $3");
            delete.Parameters.Add(new() { Value = inbox.MessageId, NpgsqlDbType = NpgsqlDbType.Uuid });
            delete.Parameters.Add(new() { Value = inbox.ConsumerId, NpgsqlDbType = NpgsqlDbType.Uuid });
            delete.Parameters.Add(new() { Value = inbox.LastSequenceNumber ?? 0, NpgsqlDbType = NpgsqlDbType.Bigint });
            var update = new Npgsql.NpgsqlBatchCommand(
                $"UPDATE {inboxTable.Name} SET {inboxTable.Column(nameof(InboxState.Delivered))} = coalesce({inboxTable.Column(nameof(InboxState.Delivered))}, $3), " +
                $"{inboxTable.Column(nameof(InboxState.LastSequenceNumber))} = greatest({inboxTable.Column(nameof(InboxState.LastSequenceNumber))}, $4) " +
                $"WHERE {inboxTable.Column(nameof(InboxState.MessageId))} = $1 AND {inboxTable.Column(nameof(InboxState.ConsumerId))} = $2");
            update.Parameters.Add(new() { Value = inbox.MessageId, NpgsqlDbType = NpgsqlDbType.Uuid });
            update.Parameters.Add(new() { Value = inbox.ConsumerId, NpgsqlDbType = NpgsqlDbType.Uuid });
            update.Parameters.Add(new() { Value = (object?)inbox.Delivered ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            update.Parameters.Add(new() { Value = (object?)inbox.LastSequenceNumber ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
            // The inbox row first, as every other path takes its locks: a duplicate of the message being relayed by
            // another consumer holds that row while it deletes the same outbox rows, and taking the rows first would
            // deadlock with it.
            batch.BatchCommands.Add(update);
            batch.BatchCommands.Add(delete);
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (opened)
                await _dbContext.Database.CloseConnectionAsync().ConfigureAwait(false);
        }

        // The database now holds what the tracked copy says; a later round re-reads the row under its lock anyway.
        var entry = _dbContext.Entry(inbox);
        if (entry.State == EntityState.Modified)
            entry.State = EntityState.Unchanged;
        foreach (var message in _dbContext.ChangeTracker.Entries<OutboxMessage>().ToList())
            message.State = EntityState.Detached;
    }

    readonly record struct RoundResult(bool ContinueProcessing, InboxState Inbox, bool WasDeliveredInRound, IReadOnlyList<OutboxMessage> Captured);
}

static class InboxSql
{
    // Consumed and delivered from the start: the row is invisible until the round commits, and then both are true unless
    // the consume captured messages, when the round's save unsets "delivered" (PostgresOutboxContextFactory's KeepStoredMarks).
    // The common consume, one that sends nothing, so writes its inbox row once instead of inserting it and updating it.
    // $1 message, $2 consumer, $3 lock id, $4 now, $5 expiration; the row's columns returned in InboxState's order (read
    // by PostgresOutboxContextFactory.InsertInboxRow).
    public static string Insert(MappedTable t) =>
        $"INSERT INTO {t.Name} ({t.Column(nameof(InboxState.MessageId))}, {t.Column(nameof(InboxState.ConsumerId))}, " +
        $"{t.Column(nameof(InboxState.LockId))}, {t.Column(nameof(InboxState.Received))}, {t.Column(nameof(InboxState.ReceiveCount))}, " +
        $"{t.Column(nameof(InboxState.ExpirationTime))}, {t.Column(nameof(InboxState.Consumed))}, {t.Column(nameof(InboxState.Delivered))}) " +
        "VALUES ($1, $2, $3, $4, 1, $5, $4, $4) " +
        $"ON CONFLICT ({t.Column(nameof(InboxState.MessageId))}, {t.Column(nameof(InboxState.ConsumerId))}) DO NOTHING RETURNING " +
        string.Join(", ", new[]
        {
            nameof(InboxState.Id), nameof(InboxState.MessageId), nameof(InboxState.ConsumerId), nameof(InboxState.LockId), nameof(InboxState.Received),
            nameof(InboxState.ReceiveCount), nameof(InboxState.ExpirationTime), nameof(InboxState.Consumed), nameof(InboxState.Delivered),
            nameof(InboxState.LastSequenceNumber),
        }.Select(t.Column));

    public static string Lock(MappedTable t) =>
        $"SELECT * FROM {t.Name} WHERE {t.Column(nameof(InboxState.MessageId))} = {{0}} AND {t.Column(nameof(InboxState.ConsumerId))} = {{1}} FOR UPDATE";
}
