using System.Data;
using System.Diagnostics;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
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
/// messages to the broker, mark delivered, delete them, commit; 3) acknowledge. A redelivered message whose inbox row
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
        var continueProcessing = true;

        while (continueProcessing)
        {
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
        try
        {
            // First delivery: insert the inbox row; a row this transaction inserted is invisible to, and blocks, every other
            // (a racing duplicate waits on the unique key until this one commits). Otherwise, or when the insert found the
            // row already there, lock it. Either way the row is held for the rest of the transaction.
            InboxState? inbox = null;
            if (countReceive)
            {
                var inserted = await _dbContext.Set<InboxState>()
                    .FromSqlRaw(InboxSql.Insert(inboxTable),
                        SqlParameters.Of((messageId, NpgsqlDbType.Uuid), (options.ConsumerId, NpgsqlDbType.Uuid), (NewId.NextGuid(), NpgsqlDbType.Uuid),
                            (now, NpgsqlDbType.TimestampTz), (ToUtc(context.ExpirationTime), NpgsqlDbType.TimestampTz)))
                    .AsTracking()
                    .ToListAsync(context.CancellationToken).ConfigureAwait(false);
                inbox = inserted.FirstOrDefault();
            }
            else
            {
                // Re-read the row under the lock rather than trust the copy tracked by the previous round.
                foreach (var entry in _dbContext.ChangeTracker.Entries<InboxState>().ToList())
                    entry.State = EntityState.Detached;
            }

            inbox ??= await _dbContext.Set<InboxState>()
                .FromSqlRaw(InboxSql.Lock(inboxTable), messageId, options.ConsumerId)
                .AsTracking()
                .SingleAsync(context.CancellationToken).ConfigureAwait(false);

            if (countReceive)
                inbox.ReceiveCount++;

            var wasDelivered = inbox.Delivered.HasValue;

            var outboxContext = new PostgresOutboxConsumeContext<TDbContext, T>(context, options, _provider, _dbContext, inbox, _timeProvider,
                completionOnly: false);

            await next.Send(outboxContext).ConfigureAwait(false);

            try
            {
                await _dbContext.SaveChangesAsync(context.CancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(context.CancellationToken).ConfigureAwait(false);
                if (outboxContext.StoredSchedules)
                    (_provider.GetService(typeof(ScheduledMessageSignal)) as ScheduledMessageSignal)?.Notify();
            }
            catch (Exception exception)
            {
                await context.NotifyFaulted(timer.Elapsed, TypeCache<T>.ShortName, exception).ConfigureAwait(false);
                throw;
            }

            return new RoundResult(outboxContext.ContinueProcessing, inbox, !wasDelivered && inbox.Delivered.HasValue);
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

    readonly record struct RoundResult(bool ContinueProcessing, InboxState Inbox, bool WasDeliveredInRound);
}

static class InboxSql
{
    public static string Insert(MappedTable t) =>
        $"INSERT INTO {t.Name} ({t.Column(nameof(InboxState.MessageId))}, {t.Column(nameof(InboxState.ConsumerId))}, " +
        $"{t.Column(nameof(InboxState.LockId))}, {t.Column(nameof(InboxState.Received))}, {t.Column(nameof(InboxState.ReceiveCount))}, " +
        $"{t.Column(nameof(InboxState.ExpirationTime))}) VALUES ({{0}}, {{1}}, {{2}}, {{3}}, 0, {{4}}) " +
        $"ON CONFLICT ({t.Column(nameof(InboxState.MessageId))}, {t.Column(nameof(InboxState.ConsumerId))}) DO NOTHING RETURNING *";

    public static string Lock(MappedTable t) =>
        $"SELECT * FROM {t.Name} WHERE {t.Column(nameof(InboxState.MessageId))} = {{0}} AND {t.Column(nameof(InboxState.ConsumerId))} = {{1}} FOR UPDATE";
}
