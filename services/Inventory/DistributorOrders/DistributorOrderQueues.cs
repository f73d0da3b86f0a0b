using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Brokering.ServiceDefaults;
using RabbitMQ.Client;

namespace Brokering.Inventory.DistributorOrders;

/// <summary>
/// Each distributor's own queue of order notices on the feeds virtual host (<c>ConnectionStrings:RabbitMqFeeds</c>):
/// a direct exchange <c>distributor-orders</c> routes by distributor id to the quorum queue
/// <c>distributor-orders.{id}</c>, which only that distributor's broker account may read (docs/inventory.md, "Order
/// notices"). Plain JSON, not a MassTransit envelope, so an ERP needs nothing but an AMQP client.
/// A plain RabbitMQ.Client channel with publisher confirms rather than the feed bus: the queues and their bindings are
/// named per distributor at run time, which MassTransit's topology (one exchange per message type) does not express.
/// </summary>
public sealed class DistributorOrderQueues(BrokerAddress broker, ILogger<DistributorOrderQueues> logger) : IAsyncDisposable
{
    /// <summary>The exchange inventory publishes every notice to, the distributor id as routing key.</summary>
    public const string Exchange = "distributor-orders";

    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly ConcurrentDictionary<string, bool> declared = new(StringComparer.Ordinal);
    // Confirms tracked by the client: BasicPublishAsync returns once the broker has the notice, and throws on a nack or a return.
    private readonly BrokerChannel link = new(broker, "inventory distributor-orders",
        new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), logger);

    /// <summary>The queue a distributor's notices wait in until its ERP reads them.</summary>
    public static string QueueOf(string distributorId) => $"{Exchange}.{distributorId}";

    /// <summary>
    /// The broker user inventory publishes as: every notice carries it as <c>user-id</c>, which RabbitMQ checks against
    /// the publishing connection's account, so a notice with this <c>user-id</c> was published by inventory and by no one
    /// who can merely write to the virtual host's default exchange.
    /// </summary>
    public string Publisher => broker.Credentials.User;

    /// <summary>Declares (idempotently) the distributor's queue and its binding, so nothing is lost before its ERP first connects.</summary>
    public async Task DeclareAsync(string distributorId, CancellationToken cancellationToken)
    {
        if (declared.ContainsKey(distributorId))
        {
            return;
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var ch = await ChannelAsync(cancellationToken);
            var queue = QueueOf(distributorId);
            await ch.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: cancellationToken);
            await ch.QueueBindAsync(queue, Exchange, distributorId, cancellationToken: cancellationToken);
            declared[distributorId] = true;
        }
        catch
        {
            await ResetAsync();
            throw;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Publishes one notice to its distributor's queue and returns once the broker has confirmed it.</summary>
    /// <param name="distributorId">The routing key: the distributor the notice is for.</param>
    /// <param name="type">The <c>type</c> property and header: <c>DistributorOrderPlaced</c> or <c>DistributorOrderRevoked</c>.</param>
    /// <param name="messageId">Stable across redeliveries, for the ERP to de-duplicate on.</param>
    /// <param name="notice">The event, serialised as plain JSON (web casing).</param>
    /// <param name="cancellationToken">Stops waiting for the broker.</param>
    public async Task PublishAsync<T>(string distributorId, string type, string messageId, T notice, CancellationToken cancellationToken)
    {
        // Declared first (on every replica, once), so a distributor registered before these queues existed loses nothing.
        await DeclareAsync(distributorId, cancellationToken);
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(notice, JsonSerializerOptions.Web));
        var properties = new BasicProperties
        {
            MessageId = messageId,
            Type = type,
            ContentType = "application/json",
            UserId = Publisher,
            DeliveryMode = DeliveryModes.Persistent,
            Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
            Headers = new Dictionary<string, object?> { ["type"] = type },
        };
        await gate.WaitAsync(cancellationToken);
        try
        {
            var ch = await ChannelAsync(cancellationToken);
            // mandatory: a notice that reaches no queue comes back as an error instead of vanishing.
            await ch.BasicPublishAsync(Exchange, distributorId, mandatory: true, properties, body, cancellationToken);
        }
        catch
        {
            await ResetAsync();
            throw;
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ResetAsync();
        gate.Dispose();
    }

    private Task<IChannel> ChannelAsync(CancellationToken cancellationToken) =>
        link.OpenAsync((channel, token) => channel.ExchangeDeclareAsync(Exchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: token),
            cancellationToken);

    // A new channel may find queues gone with a broker rebuilt: each is declared again on its next use.
    private async Task ResetAsync()
    {
        declared.Clear();
        await link.ResetAsync();
    }
}
