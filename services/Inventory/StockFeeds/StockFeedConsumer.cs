using Brokering.Inventory.Data;
using MassTransit;

namespace Brokering.Inventory.StockFeeds;

/// <summary>
/// The shared raw-JSON AMQP queue <c>stock-feed</c>, read by a MassTransit endpoint (<see cref="StockFeedEndpoint"/>):
/// hands each delivery, its body unread, to <see cref="StockFeedReceiver"/>. A refusal thrown from there moves the
/// message to <c>stock-feed_error</c> with the reason in <c>MT-Fault-Message</c>.
/// </summary>
internal sealed class StockFeedConsumer(StockFeedReceiver receiver, InventoryDbContext db) : IConsumer<StockFeedDelivery>
{
    public const string QueueName = "stock-feed";

    public Task Consume(ConsumeContext<StockFeedDelivery> context) =>
        receiver.ReceiveAsync(
            new AmqpFeedMessage(
                context.ReceiveContext.Body.GetBytes(),
                context.Headers.Get<string>(FeedSignature.Header),
                context.Headers.Get<string>(FeedSignature.SignedAtHeader),
                context.ReceiveContext.TransportHeaders.TryGetHeader("x-delivery-count", out var count) ? AmqpFeedMessage.DeliveryCountOf(count) : 0,
                QueueOwner: null),
            db,
            context.CancellationToken);
}
