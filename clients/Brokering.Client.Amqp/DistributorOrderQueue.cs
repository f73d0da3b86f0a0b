using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Brokering.Client.Amqp;

/// <summary>
/// A distributor's own order queue (<c>distributor-orders.{id}</c> on the feeds virtual host), read as an ERP would:
/// notices handed over typed, in queue order, each acknowledged by the reader once it has recorded it. A message that
/// inventory did not publish (wrong or missing <c>user-id</c>), that names another distributor or that cannot be read
/// is dropped, never handed over, and told to <see cref="DistributorOrderQueueOptions.Dropped"/>.
/// </summary>
/// <example>
/// <code>
/// await using var queue = await DistributorOrderQueue.ConnectAsync(new() { Broker = broker, DistributorId = "arrow" });
/// await foreach (var notice in queue.ReadAsync(cancellationToken))
/// {
///     await erp.RecordAsync(notice);          // keyed by notice.MessageId
///     await notice.AcknowledgeAsync(cancellationToken);
/// }
/// </code>
/// </example>
public sealed class DistributorOrderQueue : IAsyncDisposable
{
    private const string Placed = "DistributorOrderPlaced";
    private const string Revoked = "DistributorOrderRevoked";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly DistributorOrderQueueOptions options;
    private readonly IConnection connection;
    private readonly IChannel channel;
    private readonly Channel<DistributorOrderNotice> notices;
    private long dropped;

    private DistributorOrderQueue(DistributorOrderQueueOptions options, IConnection connection, IChannel channel)
    {
        this.options = options;
        this.connection = connection;
        this.channel = channel;
        // Bounded by the prefetch: the broker never sends more than that unacknowledged, so nothing waits here long.
        notices = Channel.CreateUnbounded<DistributorOrderNotice>(new UnboundedChannelOptions { SingleWriter = true });
    }

    /// <summary>The queue's name for <paramref name="distributorId"/>.</summary>
    /// <param name="distributorId">The distributor.</param>
    /// <returns><c>distributor-orders.{distributorId}</c>.</returns>
    public static string QueueName(string distributorId) => $"distributor-orders.{distributorId}";

    /// <summary>Messages dropped so far (see <see cref="DistributorOrderQueueOptions.Dropped"/>).</summary>
    public long DroppedCount => Interlocked.Read(ref dropped);

    /// <summary>
    /// Connects with the distributor's account and starts taking notices off its queue (at most
    /// <see cref="DistributorOrderQueueOptions.Prefetch"/> ahead of the reader). The connection recovers by itself after
    /// a network failure; notices not acknowledged before it are delivered again.
    /// </summary>
    /// <param name="options">Where and whose.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>The queue, being read.</returns>
    public static async Task<DistributorOrderQueue> ConnectAsync(DistributorOrderQueueOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DistributorId);
        var factory = new ConnectionFactory
        {
            Uri = options.Broker,
            ClientProvidedName = $"brokering-orders-{options.DistributorId}",
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
        };
        var connection = await factory.CreateConnectionAsync(cancellationToken);
        try
        {
            var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            await channel.BasicQosAsync(0, Math.Max((ushort)1, options.Prefetch), global: false, cancellationToken);
            var queue = new DistributorOrderQueue(options, connection, channel);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += queue.ReceiveAsync;
            await channel.BasicConsumeAsync(QueueName(options.DistributorId), autoAck: false, consumer, cancellationToken);
            return queue;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The notices, in queue order, as they arrive; ends when <paramref name="cancellationToken"/> is cancelled.</summary>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <returns>Each notice, to be acknowledged with <see cref="DistributorOrderNotice.AcknowledgeAsync"/>.</returns>
    public async IAsyncEnumerable<DistributorOrderNotice> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await notices.Reader.WaitToReadAsync(cancellationToken))
        {
            while (notices.Reader.TryRead(out var notice))
            {
                yield return notice;
            }
        }
    }

    /// <summary>Closes the channel and the connection; notices handed over and not acknowledged are delivered again.</summary>
    /// <returns>When closed.</returns>
    public async ValueTask DisposeAsync()
    {
        notices.Writer.TryComplete();
        await channel.DisposeAsync();
        await connection.DisposeAsync();
    }

    private async Task ReceiveAsync(object sender, BasicDeliverEventArgs delivery)
    {
        var properties = delivery.BasicProperties;
        var (notice, why) = Judge(delivery);
        if (notice is null)
        {
            Interlocked.Increment(ref dropped);
            options.Dropped?.Invoke(new DroppedMessage(properties.MessageId, properties.UserId, why!));
            // Not requeued: it would come back for ever. Nothing is lost, as the message is not inventory's (or unreadable,
            // and the same order is listed by GET /v1/distributor/orders).
            await channel.BasicRejectAsync(delivery.DeliveryTag, requeue: false);
            return;
        }

        await notices.Writer.WriteAsync(notice);
    }

    // The notice a delivery carries, or why it is dropped instead.
    private (DistributorOrderNotice? Notice, string? DroppedBecause) Judge(BasicDeliverEventArgs delivery)
    {
        var properties = delivery.BasicProperties;
        if (!string.Equals(properties.UserId, options.InventoryUserId, StringComparison.Ordinal))
        {
            return (null, $"its user-id is '{properties.UserId}', not inventory's '{options.InventoryUserId}': inventory did not publish it");
        }

        if (string.IsNullOrEmpty(properties.MessageId))
        {
            return (null, "it has no message-id");
        }

        var settle = Settle(delivery.DeliveryTag);
        try
        {
            switch (properties.Type)
            {
                case Placed:
                    var order = JsonSerializer.Deserialize<PlacedBody>(delivery.Body.Span, Json);
                    return order is null || order.DistributorId != options.DistributorId
                        ? (null, $"it is an order for '{order?.DistributorId}', not for '{options.DistributorId}'")
                        : (new DistributorOrderNotice(properties.MessageId, delivery.Redelivered,
                            new DistributorOrder(order.ReservationId, order.BuyerOrganisation, order.CommittedAt, order.Units, order.Lines ?? []), null, settle), null);
                case Revoked:
                    var revoked = JsonSerializer.Deserialize<RevokedBody>(delivery.Body.Span, Json);
                    return revoked is null || revoked.DistributorId != options.DistributorId
                        ? (null, $"it revokes an order of '{revoked?.DistributorId}', not of '{options.DistributorId}'")
                        : (new DistributorOrderNotice(properties.MessageId, delivery.Redelivered, null,
                            new DistributorOrderRevocation(revoked.ReservationId, revoked.CommittedAt, revoked.HoldIds ?? [], revoked.Units, revoked.Reason ?? string.Empty),
                            settle), null);
                default:
                    return (null, $"its type '{properties.Type}' is not a notice this client knows");
            }
        }
        catch (JsonException e)
        {
            return (null, $"its body is not a notice: {e.Message}");
        }
    }

    private Func<bool, CancellationToken, ValueTask> Settle(ulong tag) => (acknowledge, cancellationToken) => acknowledge
        ? channel.BasicAckAsync(tag, multiple: false, cancellationToken)
        : channel.BasicNackAsync(tag, multiple: false, requeue: true, cancellationToken);

    private sealed record PlacedBody(string? DistributorId, Guid ReservationId, string? BuyerOrganisation, DateTimeOffset CommittedAt, long Units, List<DistributorOrderLine>? Lines);

    private sealed record RevokedBody(string? DistributorId, Guid ReservationId, DateTimeOffset CommittedAt, List<Guid>? HoldIds, long Units, string? Reason);
}
