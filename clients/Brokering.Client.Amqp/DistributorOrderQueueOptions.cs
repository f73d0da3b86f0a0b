namespace Brokering.Client.Amqp;

/// <summary>Where a distributor's order queue is and whose notices to trust.</summary>
public sealed class DistributorOrderQueueOptions
{
    /// <summary>
    /// The feeds virtual host with the distributor's own account, e.g.
    /// <c>amqp://distributor-orders-arrow:PASSWORD@broker:5672/brokering-feeds</c> (the operator issues the account and
    /// prints its password once; <c>amqps://</c> for TLS).
    /// </summary>
    public required Uri Broker { get; init; }

    /// <summary>The distributor whose queue (<c>distributor-orders.{id}</c>) is read.</summary>
    public required string DistributorId { get; init; }

    /// <summary>
    /// The broker account inventory publishes notices with (<c>brokering-inventory-feeds</c> in the project's recipes).
    /// The broker refuses a publish whose <c>user-id</c> is not the publishing account, so a message without this
    /// <c>user-id</c> was not put there by inventory (a stock-feed account can write to any queue by name) and is dropped.
    /// </summary>
    public string InventoryUserId { get; init; } = "brokering-inventory-feeds";

    /// <summary>Notices delivered ahead of the reader and not yet acknowledged, at most (the channel's prefetch).</summary>
    public ushort Prefetch { get; init; } = 32;

    /// <summary>Told of every message dropped, with why; by default nothing is told.</summary>
    public Action<DroppedMessage>? Dropped { get; init; }
}

/// <summary>A message taken off the queue and dropped without being handed to the reader.</summary>
/// <param name="MessageId">Its <c>message-id</c>, when it had one.</param>
/// <param name="UserId">Its <c>user-id</c>, when it had one.</param>
/// <param name="Reason">Why it was dropped.</param>
public sealed record DroppedMessage(string? MessageId, string? UserId, string Reason);
