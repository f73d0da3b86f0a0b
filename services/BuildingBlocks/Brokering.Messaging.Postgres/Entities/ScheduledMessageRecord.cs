namespace Brokering.Messaging.Postgres;

/// <summary>
/// A message waiting in the durable scheduler: table <c>scheduled_message</c>. Written when the scheduler endpoint
/// consumes <c>ScheduleMessage</c>, deleted once sent. A <c>CancelScheduledMessage</c> sets <see cref="CancelledAt"/>
/// (and leaves a tombstone when it overtakes its <c>ScheduleMessage</c>), so a cancelled message is never sent.
/// </summary>
public class ScheduledMessageRecord
{
    /// <summary>The scheduling token (<c>ScheduleMessage.CorrelationId</c>, <c>CancelScheduledMessage.TokenId</c>).</summary>
    public Guid TokenId { get; set; }

    /// <summary>The MessageId the delivered message carries (stable, so a re-send is de-duplicated by the receiver's inbox).</summary>
    public Guid MessageId { get; set; }

    /// <summary>When the message is due (UTC).</summary>
    public DateTime DueAt { get; set; }

    /// <summary>When the schedule was stored (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>When the schedule was cancelled (UTC); such a row is never delivered.</summary>
    public DateTime? CancelledAt { get; set; }

    /// <summary>Where the message goes.</summary>
    public Uri? DestinationAddress { get; set; }

    /// <summary>Serialization content type of <see cref="Body"/>.</summary>
    public string ContentType { get; set; } = "";

    /// <summary>Message type URNs, separated by <c>;</c>.</summary>
    public string MessageType { get; set; } = "";

    /// <summary>The serialized message (envelope) to deliver.</summary>
    public string Body { get; set; } = "";

    /// <summary>Headers to deliver with the message, JSON.</summary>
    public string? Headers { get; set; }

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

    /// <summary>Response address.</summary>
    public Uri? ResponseAddress { get; set; }

    /// <summary>Fault address.</summary>
    public Uri? FaultAddress { get; set; }

    /// <summary>When the message expires (UTC).</summary>
    public DateTime? ExpirationTime { get; set; }

    /// <summary>Failed delivery attempts so far.</summary>
    public int Attempts { get; set; }

    /// <summary>The last delivery error, for operators.</summary>
    public string? LastError { get; set; }
}
