using MassTransit;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// The consume context inside the outbox transaction: messages sent or published while consuming become
/// <see cref="OutboxMessage"/> rows of the same DbContext; the inbox row records consumption and delivery.
/// </summary>
sealed class PostgresOutboxConsumeContext<TDbContext, TMessage> :
    OutboxConsumeContextProxy<TMessage>,
    IPostgresTransactionContext
    where TDbContext : DbContext
    where TMessage : class
{
    readonly TDbContext _dbContext;
    readonly InboxState _inboxState;
    readonly TimeProvider _timeProvider;
    readonly bool _completionOnly;
    readonly IReadOnlyList<OutboxMessage>? _capturedEarlier;
    readonly PostgresMessageSchedulerOptions? _schedulerOptions;
    readonly Lock _addLock = new();
    readonly List<OutboxMessage> _captured = [];

    // completionOnly: the last round after this call itself delivered the outbox; nothing is left to read or delete,
    // so the round runs without a transaction.
    // capturedEarlier: the delivery round right after this call's own consume committed: the messages it captured are
    // still in memory, so they are relayed from there, without a transaction, and the database is told afterwards.
    public PostgresOutboxConsumeContext(ConsumeContext<TMessage> context, OutboxConsumeOptions options, IServiceProvider provider,
        TDbContext dbContext, InboxState inboxState, TimeProvider timeProvider, bool completionOnly,
        IReadOnlyList<OutboxMessage>? capturedEarlier = null)
        : base(context, options, provider)
    {
        _dbContext = dbContext;
        _inboxState = inboxState;
        _timeProvider = timeProvider;
        _completionOnly = completionOnly;
        _capturedEarlier = capturedEarlier;
        _schedulerOptions = provider.GetService(typeof(PostgresMessageSchedulerOptions)) as PostgresMessageSchedulerOptions;
    }

    /// <summary>The messages this round captured, numbered by the database once the round has saved.</summary>
    public IReadOnlyList<OutboxMessage> Captured => _captured;

    public DbContext DbContext => _dbContext;

    public override Guid? MessageId => _inboxState.MessageId;

    public override bool ContinueProcessing { get; set; } = true;

    public override bool IsMessageConsumed => _inboxState.Consumed.HasValue;

    public override bool IsOutboxDelivered => _inboxState.Delivered.HasValue;

    public override int ReceiveCount => _inboxState.ReceiveCount;

    public override long? LastSequenceNumber => _inboxState.LastSequenceNumber;

    DateTime Now => _timeProvider.GetUtcNow().UtcDateTime;

    // The factory saves once, right before it commits: the consumer's entities, the saga, the captured messages and the
    // inbox row go to the database in one batch.
    public override Task SetConsumed()
    {
        var now = Now;
        _inboxState.Consumed = now;

        // Nothing was sent while consuming: there is nothing to deliver, so the next round can finish without a transaction.
        bool nothingSent;
        lock (_addLock)
            nothingSent = _captured.Count == 0;
        if (nothingSent)
            _inboxState.Delivered = now;

        return Task.CompletedTask;
    }

    public override async Task SetDelivered()
    {
        _inboxState.Delivered = Now;

        // Relayed from memory, the factory records delivery and removes the rows in one statement batch afterwards.
        if (_capturedEarlier is not null)
            return;

        // Delivered rows are of no further use; removing them now saves the extra round MassTransit's pipe would need.
        await DeleteOutboxMessages().ConfigureAwait(false);
    }

    public override async Task<List<OutboxMessageContext>> LoadOutboxMessages()
    {
        var lastSequenceNumber = LastSequenceNumber ?? 0;
        if (_capturedEarlier is not null)
        {
            return _capturedEarlier
                .Where(x => x.SequenceNumber > lastSequenceNumber)
                .OrderBy(x => x.SequenceNumber)
                .Take(Options.MessageDeliveryLimit + 1)
                .Select(OutboxMessageContext (x) => StoredMessageContext.From(x, SerializerContext))
                .ToList();
        }

        var inboxMessageId = _inboxState.MessageId;
        var inboxConsumerId = _inboxState.ConsumerId;

        var messages = await _dbContext.Set<OutboxMessage>()
            .Where(x => x.InboxMessageId == inboxMessageId && x.InboxConsumerId == inboxConsumerId && x.SequenceNumber > lastSequenceNumber)
            .OrderBy(x => x.SequenceNumber)
            .Take(Options.MessageDeliveryLimit + 1)
            .AsNoTracking()
            .ToListAsync(CancellationToken).ConfigureAwait(false);

        return messages.Select(OutboxMessageContext (x) => StoredMessageContext.From(x, SerializerContext)).ToList();
    }

    public override Task NotifyOutboxMessageDelivered(OutboxMessageContext message)
    {
        _inboxState.LastSequenceNumber = message.SequenceNumber;
        return Task.CompletedTask;
    }

    public override async Task RemoveOutboxMessages()
    {
        if (_completionOnly || _capturedEarlier is not null)
            return;

        await DeleteOutboxMessages().ConfigureAwait(false);
    }

    /// <summary>
    /// When the earliest timer this round stored is due (UTC); null when it stored none. Once the round commits, the
    /// scheduler's loop is woken if that is before it would look again.
    /// </summary>
    public DateTime? EarliestStoredDue { get; private set; }

    public override async Task AddSend<T>(SendContext<T> context)
    {
        if (_dbContext.Database.CurrentTransaction is not null && TransactionalSchedules.IsForLocalScheduler(context, _schedulerOptions))
        {
            if (context.Message is ScheduleMessage schedule)
            {
                var dueAt = OutboxMessageFactory.Utc(schedule.ScheduledTime);
                lock (_addLock)
                {
                    TransactionalSchedules.Store(_dbContext, context, schedule, SerializerContext, Now);
                    if (!(EarliestStoredDue <= dueAt))
                        EarliestStoredDue = dueAt;
                }
            }
            else if (context.Message is CancelScheduledMessage cancel)
                await TransactionalSchedules.Cancel(_dbContext, cancel, Now, CancellationToken).ConfigureAwait(false);

            return;
        }

        var message = OutboxMessageFactory.Create(context, SerializerContext, Now, _inboxState.MessageId, _inboxState.ConsumerId);

        lock (_addLock)
        {
            _dbContext.Set<OutboxMessage>().Add(message);
            _captured.Add(message);
        }
    }

    Task<int> DeleteOutboxMessages()
    {
        var inboxMessageId = _inboxState.MessageId;
        var inboxConsumerId = _inboxState.ConsumerId;

        return _dbContext.Set<OutboxMessage>()
            .Where(x => x.InboxMessageId == inboxMessageId && x.InboxConsumerId == inboxConsumerId)
            .ExecuteDeleteAsync(CancellationToken);
    }
}
