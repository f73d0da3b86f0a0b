using System.Net.Mime;
using MassTransit;
using MassTransit.Serialization;
using Npgsql;

namespace Brokering.Inventory.StockFeeds;

/// <summary>
/// What the <c>stock-feed</c> queue's consumer receives: nothing but the delivery itself. The body is not parsed on the
/// way in (the endpoint's deserializer leaves it unread); <see cref="StockFeedReceiver"/> reads the raw bytes, and parses them
/// only once their size, freshness and signature have been checked.
/// </summary>
public sealed record StockFeedDelivery;

/// <summary>
/// The receive endpoint of the shared raw-JSON AMQP queue <c>stock-feed</c>, which publishers reach through its own
/// exchange <c>stock-feed</c> (MassTransit binds an endpoint's queue to an exchange of its name). Each distributor's own
/// queue is read by <see cref="DistributorFeedQueues"/> instead, through the same <see cref="StockFeedReceiver"/>.
/// </summary>
internal static class StockFeedEndpoint
{
    public static void ConfigureStockFeedEndpoint(this IRabbitMqBusFactoryConfigurator bus, IRegistrationContext context) =>
        bus.ReceiveEndpoint(StockFeedConsumer.QueueName, endpoint => endpoint.ConfigureAsStockFeed(context));

    /// <summary>What makes the endpoint safe to expose to distributors; the checks on the message itself are <see cref="StockFeedReceiver"/>'s.</summary>
    private static void ConfigureAsStockFeed(this IRabbitMqReceiveEndpointConfigurator endpoint, IRegistrationContext context)
    {
        endpoint.SetQuorumQueue();
        // No message-type exchange is bound: MassTransit's topology would let a type's publisher route into the feed.
        endpoint.ConfigureConsumeTopology = false;
        // A refused message goes to stock-feed_error and nowhere else: no Fault event for a publisher's bad message, and
        // none the feeds account could publish (it may declare and write only the stock-feed names).
        endpoint.PublishFaults = false;
        // Whatever content type a publisher claims, this is the only deserializer: nothing parses a body before the consumer.
        endpoint.ClearSerialization();
        endpoint.AddSerializer(new UnreadBodySerializerFactory());
        endpoint.AddDeserializer(new UnreadBodySerializerFactory(), isDefault: true);
        endpoint.UseMessageRetry(retry =>
        {
            retry.Handle<NpgsqlException>();
            retry.Handle<TimeoutException>();
            retry.Intervals(StockFeedRetries.Database);
        });
        endpoint.ConfigureConsumer<StockFeedConsumer>(context);
    }

    /// <summary>Hands every message to the consumer as a <see cref="StockFeedDelivery"/>, whatever its body.</summary>
    private sealed class UnreadBodySerializerFactory : ISerializerFactory
    {
        public ContentType ContentType => SystemTextJsonRawMessageSerializer.JsonContentType;

        public IMessageSerializer CreateSerializer() => new SystemTextJsonRawMessageSerializer(RawSerializerOptions.AnyMessageType);

        public IMessageDeserializer CreateDeserializer() => new UnreadBodyDeserializer();
    }

    /// <summary>
    /// MassTransit's raw JSON deserializer parses the whole body into a document before any consumer runs; this one
    /// gives it an empty object instead, so nothing a publisher sends is parsed before the consumer has verified it.
    /// </summary>
    private sealed class UnreadBodyDeserializer : IMessageDeserializer
    {
        private static readonly MessageBody Nothing = new StringMessageBody("{}");

        private readonly SystemTextJsonRawMessageSerializer inner = new(RawSerializerOptions.AnyMessageType);

        public ContentType ContentType => inner.ContentType;

        public void Probe(ProbeContext context) => inner.Probe(context);

        public ConsumeContext Deserialize(ReceiveContext receiveContext) =>
            new BodyConsumeContext(receiveContext, Deserialize(receiveContext.Body, receiveContext.TransportHeaders, receiveContext.InputAddress));

        public SerializerContext Deserialize(MessageBody body, Headers headers, Uri? destinationAddress = null) =>
            inner.Deserialize(Nothing, headers, destinationAddress);

        public MessageBody GetMessageBody(string text) => inner.GetMessageBody(text);
    }
}
