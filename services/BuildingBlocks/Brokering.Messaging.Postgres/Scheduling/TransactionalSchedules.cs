using MassTransit;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
using NpgsqlTypes;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Stores a timer set (or cancelled) while consuming straight into <c>scheduled_message</c>, in the consumer's own
/// transaction, instead of sending a <see cref="ScheduleMessage"/>/<see cref="CancelScheduledMessage"/> to the scheduler's
/// queue for its consumer to store. The guarantee is the one the queue gave, "armed if and only if the transition that
/// set it commits", without the message, its relay, its consume and that consume's own transaction.
/// </summary>
/// <remarks>
/// Only commands addressed to this service's own PostgreSQL scheduler are stored here, and only while the consume's
/// transaction is open: a redelivery scheduled after a failed consume (its transaction rolled back) still goes through
/// the queue, as does anything scheduled outside a consumer.
/// </remarks>
static class TransactionalSchedules
{
    public static bool IsForLocalScheduler<T>(SendContext<T> context, PostgresMessageSchedulerOptions? options)
        where T : class =>
        options is { WriteSchedulesInTransaction: true }
        && context.Message is ScheduleMessage or CancelScheduledMessage
        && context.DestinationAddress is { } destination
        && string.Equals(destination.AbsolutePath.TrimEnd('/').Split('/')[^1], options.QueueName, StringComparison.Ordinal);

    /// <summary>Adds the schedule's row to the DbContext (saved with the consumer's other changes, in one batch).</summary>
    public static void Store(DbContext dbContext, SendContext context, ScheduleMessage message, SerializerContext serializer, DateTime now)
    {
        dbContext.Set<ScheduledMessageRecord>().Add(new ScheduledMessageRecord
        {
            TokenId = message.CorrelationId,
            MessageId = context.MessageId ?? NewId.NextGuid(),
            DueAt = OutboxMessageFactory.Utc(message.ScheduledTime),
            CreatedAt = now,
            DestinationAddress = message.Destination,
            ContentType = context.ContentType?.ToString() ?? "application/vnd.masstransit+json",
            MessageType = string.Join(";", message.PayloadType),
            Body = ScheduleContent.Body(serializer, message),
            Headers = ScheduleContent.Headers(serializer, context.Headers),
            ConversationId = context.ConversationId,
            CorrelationId = context.CorrelationId,
            InitiatorId = context.InitiatorId,
            RequestId = context.RequestId,
            SourceAddress = context.SourceAddress,
            ResponseAddress = context.ResponseAddress,
            FaultAddress = context.FaultAddress,
        });
    }

    /// <summary>Cancels in the open transaction, with the scheduler consumer's own statement (a tombstone if no row yet).</summary>
    public static Task Cancel(DbContext dbContext, CancelScheduledMessage message, DateTime now, CancellationToken cancellationToken)
    {
        var t = TableNames.For<ScheduledMessageRecord>(dbContext);

        // A schedule set earlier in this same transaction is still only tracked: cancelling it is not storing it.
        var pending = dbContext.ChangeTracker.Entries<ScheduledMessageRecord>()
            .FirstOrDefault(e => e.State == EntityState.Added && e.Entity.TokenId == message.TokenId);
        if (pending is not null)
        {
            pending.State = EntityState.Detached;
            return Task.CompletedTask;
        }

        return dbContext.Database.ExecuteSqlRawAsync(ScheduledMessageSql.Cancel(t),
            SqlParameters.Of((message.TokenId, NpgsqlDbType.Uuid), (now, NpgsqlDbType.TimestampTz)), cancellationToken);
    }
}
