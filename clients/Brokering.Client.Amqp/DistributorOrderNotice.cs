namespace Brokering.Client.Amqp;

/// <summary>
/// One notice from a distributor's order queue: an order placed (<see cref="Order"/>) or revoked
/// (<see cref="Revocation"/>). Delivered at least once: the same notice comes again, with the same
/// <see cref="MessageId"/>, when it was not acknowledged before a connection was lost, so record it under its id and
/// acknowledge it once recorded.
/// </summary>
public sealed class DistributorOrderNotice
{
    private readonly Func<bool, CancellationToken, ValueTask> settle;

    internal DistributorOrderNotice(
        string messageId, bool redelivered, DistributorOrder? order, DistributorOrderRevocation? revocation, Func<bool, CancellationToken, ValueTask> settle)
    {
        MessageId = messageId;
        Redelivered = redelivered;
        Order = order;
        Revocation = revocation;
        this.settle = settle;
    }

    /// <summary>The notice's id, the same on every delivery of it: de-duplicate on it.</summary>
    public string MessageId { get; }

    /// <summary>Whether the broker delivered it before (to this reader or another) without an acknowledgement.</summary>
    public bool Redelivered { get; }

    /// <summary>The order placed, for a <c>DistributorOrderPlaced</c> notice; null for a revocation.</summary>
    public DistributorOrder? Order { get; }

    /// <summary>The order revoked, for a <c>DistributorOrderRevoked</c> notice; null for an order placed.</summary>
    public DistributorOrderRevocation? Revocation { get; }

    /// <summary>Takes the notice off the queue for good: call once it is recorded.</summary>
    /// <param name="cancellationToken">Cancels the acknowledgement (the notice then comes again).</param>
    /// <returns>When the acknowledgement has been sent.</returns>
    public ValueTask AcknowledgeAsync(CancellationToken cancellationToken = default) => settle(true, cancellationToken);

    /// <summary>Gives the notice back to the queue, to be delivered again (to this reader or another).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>When the notice has been given back.</returns>
    public ValueTask ReturnAsync(CancellationToken cancellationToken = default) => settle(false, cancellationToken);
}

/// <summary>An order announced before that no longer stands: its holds were released and the units returned to stock.</summary>
/// <param name="ReservationId">The buyer's reservation.</param>
/// <param name="CommittedAt">The <see cref="DistributorOrder.CommittedAt"/> of the order revoked (with the reservation, the order's key).</param>
/// <param name="HoldIds">Its holds, now released (the <see cref="DistributorOrderLine.HoldId"/>s of its lines).</param>
/// <param name="Units">Units no longer ordered.</param>
/// <param name="Reason">Why, for the distributor's people.</param>
public sealed record DistributorOrderRevocation(Guid ReservationId, DateTimeOffset CommittedAt, IReadOnlyList<Guid> HoldIds, long Units, string Reason);
