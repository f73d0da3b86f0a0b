namespace Brokering.Messaging.Postgres;

/// <summary>
/// A message captured by the outbox instead of being sent to the broker: table <c>outbox_message</c>.
/// Rows of a consumer's outbox carry <see cref="InboxMessageId"/>/<see cref="InboxConsumerId"/>; rows of the bus outbox
/// carry <see cref="OutboxId"/>. <see cref="SequenceNumber"/> (identity) orders them.
/// </summary>
public class OutboxMessage
{
    /// <summary>Identity; delivery order within one outbox.</summary>
    public long SequenceNumber { get; set; }

    /// <summary>When the message should be visible (UTC), for a delayed send.</summary>
    public DateTime? EnqueueTime { get; set; }

    /// <summary>When the message was sent into the outbox (UTC).</summary>
    public DateTime SentTime { get; set; }

    /// <summary>Message headers, JSON.</summary>
    public string? Headers { get; set; }

    /// <summary>Transport properties (routing key, ...), JSON.</summary>
    public string? Properties { get; set; }

    /// <summary>The consumed message that produced this one (consumer outbox).</summary>
    public Guid? InboxMessageId { get; set; }

    /// <summary>The consumer that produced this one (consumer outbox).</summary>
    public Guid? InboxConsumerId { get; set; }

    /// <summary>The bus-outbox source that produced this one.</summary>
    public Guid? OutboxId { get; set; }

    /// <summary>The MessageId the broker will see (stable across relays, so receivers' inboxes de-duplicate).</summary>
    public Guid MessageId { get; set; }

    /// <summary>Serialization content type, e.g. <c>application/vnd.masstransit+json</c>.</summary>
    public string ContentType { get; set; } = "";

    /// <summary>Message type URNs, separated by <c>;</c>.</summary>
    public string MessageType { get; set; } = "";

    /// <summary>The serialized message body.</summary>
    public string Body { get; set; } = "";

    /// <summary>ConversationId header.</summary>
    public Guid? ConversationId { get; set; }

    /// <summary>CorrelationId header.</summary>
    public Guid? CorrelationId { get; set; }

    /// <summary>InitiatorId header.</summary>
    public Guid? InitiatorId { get; set; }

    /// <summary>RequestId header.</summary>
    public Guid? RequestId { get; set; }

    /// <summary>Source address.</summary>
    public Uri? SourceAddress { get; set; }

    /// <summary>Where the message goes (exchange or queue address).</summary>
    public Uri? DestinationAddress { get; set; }

    /// <summary>Response address.</summary>
    public Uri? ResponseAddress { get; set; }

    /// <summary>Fault address.</summary>
    public Uri? FaultAddress { get; set; }

    /// <summary>When the message expires (UTC).</summary>
    public DateTime? ExpirationTime { get; set; }
}
