using System.Globalization;
using Brokering.Contracts.Inventory;
using MassTransit;

namespace Brokering.Inventory.DistributorOrders;

/// <summary>
/// Relays the order notices inventory's outbox publishes on the internal bus to each distributor's own queue on the
/// feeds virtual host. A consumer on the internal bus, so the outbox's at-least-once delivery carries over: the message
/// is acknowledged only after the broker confirmed the relayed notice, and a failed relay is retried like any consumer.
/// </summary>
public sealed class DistributorOrderRelay(DistributorOrderQueues queues) : IConsumer<DistributorOrderPlaced>, IConsumer<DistributorOrderRevoked>
{
    public Task Consume(ConsumeContext<DistributorOrderPlaced> context)
    {
        var notice = context.Message;
        return queues.PublishAsync(notice.DistributorId, nameof(DistributorOrderPlaced),
            MessageIdOf("placed", notice.DistributorId, notice.ReservationId, notice.CommittedAt), notice, context.CancellationToken);
    }

    public Task Consume(ConsumeContext<DistributorOrderRevoked> context)
    {
        var notice = context.Message;
        return queues.PublishAsync(notice.DistributorId, nameof(DistributorOrderRevoked),
            MessageIdOf("revoked", notice.DistributorId, notice.ReservationId, notice.CommittedAt), notice, context.CancellationToken);
    }

    /// <summary>
    /// Derived from what identifies the order (a distributor's order is one reservation's commit), not from the internal
    /// message: the same on every redelivery and every replica, so the ERP can de-duplicate on it alone.
    /// </summary>
    internal static string MessageIdOf(string kind, string distributorId, Guid reservationId, DateTimeOffset committedAt) =>
        string.Create(CultureInfo.InvariantCulture, $"{kind}:{distributorId}:{reservationId:N}:{committedAt.UtcTicks}");
}
