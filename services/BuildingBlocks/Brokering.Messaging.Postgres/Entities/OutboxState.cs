namespace Brokering.Messaging.Postgres;

/// <summary>
/// One row per bus-outbox "source" (a DI scope that published or sent through the bus outbox, e.g. one API request):
/// table <c>outbox_state</c>. The delivery service locks it with <c>FOR UPDATE SKIP LOCKED</c> so that exactly one
/// replica relays that source's messages, in order.
/// </summary>
public class OutboxState
{
    /// <summary>Assigned when the scope first sends through the outbox.</summary>
    public Guid OutboxId { get; set; }

    /// <summary>Changed by each transaction that holds the row lock (diagnostics only).</summary>
    public Guid LockId { get; set; }

    /// <summary>When the outbox was created (UTC); the delivery order across sources.</summary>
    public DateTime Created { get; set; }

    /// <summary>When all its messages were handed to the broker (UTC).</summary>
    public DateTime? Delivered { get; set; }

    /// <summary>The last sequence number handed to the broker.</summary>
    public long? LastSequenceNumber { get; set; }
}
