using MassTransit;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
using NpgsqlTypes;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// The scheduler endpoint's consumer: stores <see cref="ScheduleMessage"/> in <c>scheduled_message</c> (upsert by token,
/// so a redelivered or re-scheduled token replaces the row) and marks it cancelled on <see cref="CancelScheduledMessage"/>
/// (leaving a tombstone when the cancel overtakes the schedule). Inside the transactional outbox its writes commit
/// with the inbox record.
/// </summary>
public sealed class PostgresScheduleMessageConsumer<TDbContext> :
    IConsumer<ScheduleMessage>,
    IConsumer<CancelScheduledMessage>
    where TDbContext : DbContext
{
    readonly TDbContext _dbContext;
    readonly ScheduledMessageSignal _signal;
    readonly TimeProvider _timeProvider;

    public PostgresScheduleMessageConsumer(TDbContext dbContext, ScheduledMessageSignal signal, TimeProvider timeProvider)
    {
        _dbContext = dbContext;
        _signal = signal;
        _timeProvider = timeProvider;
    }

    public async Task Consume(ConsumeContext<ScheduleMessage> context)
    {
        var message = context.Message;
        var t = TableNames.For<ScheduledMessageRecord>(_dbContext);
        var now = _timeProvider.GetUtcNow().UtcDateTime;

        var values = SqlParameters.Of(
            (message.CorrelationId, NpgsqlDbType.Uuid),
            (context.MessageId ?? NewId.NextGuid(), NpgsqlDbType.Uuid),
            (OutboxMessageFactory.Utc(message.ScheduledTime), NpgsqlDbType.TimestampTz),
            (now, NpgsqlDbType.TimestampTz),
            (message.Destination.ToString(), NpgsqlDbType.Text),
            (context.ReceiveContext.ContentType?.ToString() ?? "application/vnd.masstransit+json", NpgsqlDbType.Varchar),
            (string.Join(";", message.PayloadType), NpgsqlDbType.Text),
            (ScheduleContent.Body(context.SerializerContext, message), NpgsqlDbType.Text),
            (ScheduleContent.Headers(context.SerializerContext, context.Headers), NpgsqlDbType.Text),
            (context.ConversationId, NpgsqlDbType.Uuid),
            (context.CorrelationId, NpgsqlDbType.Uuid),
            (context.InitiatorId, NpgsqlDbType.Uuid),
            (context.RequestId, NpgsqlDbType.Uuid),
            (context.SourceAddress?.ToString(), NpgsqlDbType.Text),
            (context.ResponseAddress?.ToString(), NpgsqlDbType.Text),
            (context.FaultAddress?.ToString(), NpgsqlDbType.Text),
            (context.ExpirationTime is { } expires ? OutboxMessageFactory.Utc(expires) : null, NpgsqlDbType.TimestampTz));

        await _dbContext.Database.ExecuteSqlRawAsync(ScheduledMessageSql.Upsert(t), values, context.CancellationToken).ConfigureAwait(false);

        _signal.Notify(OutboxMessageFactory.Utc(message.ScheduledTime));

        LogContext.Debug?.Log("Scheduled {TokenId} for {DueAt:O} to {Destination}", message.CorrelationId, message.ScheduledTime, message.Destination);
    }

    public async Task Consume(ConsumeContext<CancelScheduledMessage> context)
    {
        var t = TableNames.For<ScheduledMessageRecord>(_dbContext);
        var now = _timeProvider.GetUtcNow().UtcDateTime;

        await _dbContext.Database.ExecuteSqlRawAsync(ScheduledMessageSql.Cancel(t),
                SqlParameters.Of((context.Message.TokenId, NpgsqlDbType.Uuid), (now, NpgsqlDbType.TimestampTz)), context.CancellationToken)
            .ConfigureAwait(false);

        LogContext.Debug?.Log("Cancelled scheduled message {TokenId}", context.Message.TokenId);
    }
}

static class ScheduledMessageSql
{
    static readonly string[] UpsertColumns =
    [
        nameof(ScheduledMessageRecord.TokenId), nameof(ScheduledMessageRecord.MessageId), nameof(ScheduledMessageRecord.DueAt),
        nameof(ScheduledMessageRecord.CreatedAt), nameof(ScheduledMessageRecord.DestinationAddress), nameof(ScheduledMessageRecord.ContentType),
        nameof(ScheduledMessageRecord.MessageType), nameof(ScheduledMessageRecord.Body), nameof(ScheduledMessageRecord.Headers),
        nameof(ScheduledMessageRecord.ConversationId), nameof(ScheduledMessageRecord.CorrelationId), nameof(ScheduledMessageRecord.InitiatorId),
        nameof(ScheduledMessageRecord.RequestId), nameof(ScheduledMessageRecord.SourceAddress), nameof(ScheduledMessageRecord.ResponseAddress),
        nameof(ScheduledMessageRecord.FaultAddress), nameof(ScheduledMessageRecord.ExpirationTime),
    ];

    /// <summary>Insert, or replace a not-cancelled row with the same token (a cancelled token stays cancelled).</summary>
    public static string Upsert(MappedTable t)
    {
        var columns = UpsertColumns.Select(t.Column).ToList();
        var placeholders = Enumerable.Range(0, columns.Count).Select(i => $"{{{i}}}");
        var updates = columns.Skip(1).Select(c => $"{c} = EXCLUDED.{c}")
            .Append($"{t.Column(nameof(ScheduledMessageRecord.Attempts))} = 0")
            .Append($"{t.Column(nameof(ScheduledMessageRecord.LastError))} = NULL");

        return $"INSERT INTO {t.Name} ({string.Join(", ", columns)}, {t.Column(nameof(ScheduledMessageRecord.Attempts))}) " +
            $"VALUES ({string.Join(", ", placeholders)}, 0) " +
            $"ON CONFLICT ({t.Column(nameof(ScheduledMessageRecord.TokenId))}) DO UPDATE SET {string.Join(", ", updates)} " +
            $"WHERE {t.Name}.{t.Column(nameof(ScheduledMessageRecord.CancelledAt))} IS NULL";
    }

    /// <summary>Due, not cancelled rows, skipping those another replica holds.</summary>
    public static string LockDue(MappedTable t) =>
        $"SELECT * FROM {t.Name} WHERE {t.Column(nameof(ScheduledMessageRecord.CancelledAt))} IS NULL " +
        $"AND {t.Column(nameof(ScheduledMessageRecord.DueAt))} <= {{0}} ORDER BY {t.Column(nameof(ScheduledMessageRecord.DueAt))} " +
        "LIMIT {1} FOR UPDATE SKIP LOCKED";

    /// <summary>Mark cancelled, or leave a tombstone if the schedule has not arrived (yet).</summary>
    public static string Cancel(MappedTable t) =>
        $"INSERT INTO {t.Name} ({t.Column(nameof(ScheduledMessageRecord.TokenId))}, {t.Column(nameof(ScheduledMessageRecord.MessageId))}, " +
        $"{t.Column(nameof(ScheduledMessageRecord.DueAt))}, {t.Column(nameof(ScheduledMessageRecord.CreatedAt))}, " +
        $"{t.Column(nameof(ScheduledMessageRecord.CancelledAt))}, {t.Column(nameof(ScheduledMessageRecord.ContentType))}, " +
        $"{t.Column(nameof(ScheduledMessageRecord.MessageType))}, {t.Column(nameof(ScheduledMessageRecord.Body))}, " +
        $"{t.Column(nameof(ScheduledMessageRecord.Attempts))}) " +
        "VALUES ({0}, {0}, {1}, {1}, {1}, '', '', '', 0) " +
        $"ON CONFLICT ({t.Column(nameof(ScheduledMessageRecord.TokenId))}) DO UPDATE SET " +
        $"{t.Column(nameof(ScheduledMessageRecord.CancelledAt))} = EXCLUDED.{t.Column(nameof(ScheduledMessageRecord.CancelledAt))}, " +
        $"{t.Column(nameof(ScheduledMessageRecord.Body))} = '' " +
        $"WHERE {t.Name}.{t.Column(nameof(ScheduledMessageRecord.CancelledAt))} IS NULL";
}
