namespace Brokering.Messaging.Postgres;

/// <summary>
/// One row per (message, consumer) received on an endpoint with the transactional outbox: table <c>inbox_state</c>.
/// A row whose <see cref="Consumed"/> is set means the consumer's effects were committed; a redelivery of the same
/// <see cref="MessageId"/> to the same <see cref="ConsumerId"/> is acknowledged and skipped.
/// </summary>
public class InboxState
{
    /// <summary>Surrogate key (identity), gives the table an ordered primary key.</summary>
    public long Id { get; set; }

    /// <summary>The MessageId of the incoming message.</summary>
    public Guid MessageId { get; set; }

    /// <summary>A stable id derived from the endpoint name and the consumer (or saga) type.</summary>
    public Guid ConsumerId { get; set; }

    /// <summary>Changed by each transaction that holds the row lock (diagnostics only).</summary>
    public Guid LockId { get; set; }

    /// <summary>When the message was first received (UTC).</summary>
    public DateTime Received { get; set; }

    /// <summary>How many times the message was received in a transaction that committed.</summary>
    public int ReceiveCount { get; set; }

    /// <summary>The message's expiration time, when it had one (UTC).</summary>
    public DateTime? ExpirationTime { get; set; }

    /// <summary>When the consumer's effects were committed (UTC).</summary>
    public DateTime? Consumed { get; set; }

    /// <summary>When every message the consumer produced was handed to the broker (UTC).</summary>
    public DateTime? Delivered { get; set; }

    /// <summary>The last outbox sequence number handed to the broker.</summary>
    public long? LastSequenceNumber { get; set; }
}
