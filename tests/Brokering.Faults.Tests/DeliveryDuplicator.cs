using System.Collections.Concurrent;
using Brokering.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Brokering.Faults.Tests;

/// <summary>
/// Makes the broker deliver every message of the services twice, the copy late and so out of order: a queue of
/// its own is bound to every durable exchange of the virtual host (message types and endpoints alike), and each
/// message it sees is published again, unchanged (same MessageId, same headers), to the exchange it was first
/// published to, after a random delay. Consumers then see at-least-once delivery at its worst: duplicates that
/// arrive after newer messages. Copies carry a header so they are not copied again.
/// </summary>
public sealed class DeliveryDuplicator : IAsyncDisposable
{
    private const string CopyHeader = "x-brokering-fault-copy";
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);

    private readonly Uri virtualHost;
    private readonly string queue = $"fault-duplicator-{Guid.NewGuid():N}";
    private readonly ConcurrentDictionary<string, bool> bound = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource stopping = new();
    private readonly SemaphoreSlim publishing = new(1, 1);
    private IConnection connection = null!;
    private IChannel consuming = null!;
    private IChannel publishingChannel = null!;
    private Task binding = Task.CompletedTask;
    private long copied;
    private long pending;

    private DeliveryDuplicator(Uri virtualHost) => this.virtualHost = virtualHost;

    /// <summary>Messages published a second time so far.</summary>
    public long Copied => Interlocked.Read(ref copied);

    /// <summary>Starts duplicating on a virtual host made by <see cref="TestInfrastructure.CreateVirtualHostAsync"/>.</summary>
    public static async Task<DeliveryDuplicator> StartAsync(Uri virtualHost, CancellationToken cancellationToken)
    {
        var duplicator = new DeliveryDuplicator(virtualHost);
        var factory = new ConnectionFactory { Uri = virtualHost, ClientProvidedName = "fault-suite duplicator" };
        duplicator.connection = await factory.CreateConnectionAsync(cancellationToken);
        duplicator.consuming = await duplicator.connection.CreateChannelAsync(cancellationToken: cancellationToken);
        duplicator.publishingChannel = await duplicator.connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await duplicator.consuming.QueueDeclareAsync(duplicator.queue, durable: false, exclusive: true, autoDelete: true, cancellationToken: cancellationToken);
        await duplicator.BindNewExchangesAsync(cancellationToken);

        var consumer = new AsyncEventingBasicConsumer(duplicator.consuming);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            duplicator.Schedule(delivery);
            return Task.CompletedTask;
        };
        await duplicator.consuming.BasicConsumeAsync(duplicator.queue, autoAck: true, consumer, cancellationToken);

        // Exchanges appear as endpoints and message types are first used: bind those too.
        duplicator.binding = duplicator.KeepBindingAsync();
        return duplicator;
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await binding;

        // Copies already due are sent, so nothing is half done when the check runs.
        await Eventually.Latest(() => Task.FromResult(Interlocked.Read(ref pending)), copies => copies <= 0, MaxDelay + TimeSpan.FromSeconds(5));

        await connection.CloseAsync();
        await connection.DisposeAsync();
        stopping.Dispose();
        publishing.Dispose();
    }

    private void Schedule(BasicDeliverEventArgs delivery)
    {
        if (delivery.BasicProperties.Headers?.ContainsKey(CopyHeader) == true || stopping.IsCancellationRequested)
        {
            return;
        }

        // The body's memory belongs to the client only during the callback: copy it.
        var body = delivery.Body.ToArray();
        var source = delivery.BasicProperties;
        var properties = new BasicProperties
        {
            MessageId = source.MessageId,
            CorrelationId = source.CorrelationId,
            ContentType = source.ContentType,
            ContentEncoding = source.ContentEncoding,
            Type = source.Type,
            DeliveryMode = source.DeliveryMode,
            Priority = source.Priority,
            Headers = new Dictionary<string, object?>(source.Headers ?? new Dictionary<string, object?>()) { [CopyHeader] = 1 },
        };
        if (source.IsTimestampPresent())
        {
            properties.Timestamp = source.Timestamp;
        }

        var exchange = delivery.Exchange;
        var routingKey = delivery.RoutingKey;
        Interlocked.Increment(ref pending);
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next((int)MaxDelay.TotalMilliseconds)), CancellationToken.None);
                await publishing.WaitAsync(CancellationToken.None);
                try
                {
                    if (publishingChannel.IsClosed)
                    {
                        publishingChannel = await connection.CreateChannelAsync(cancellationToken: CancellationToken.None);
                    }

                    await publishingChannel.BasicPublishAsync(exchange, routingKey, mandatory: false, properties, body, CancellationToken.None);
                    Interlocked.Increment(ref copied);
                }
                finally
                {
                    publishing.Release();
                }
            }
            catch (Exception e) when (e is RabbitMQ.Client.Exceptions.RabbitMQClientException or RabbitMQ.Client.Exceptions.OperationInterruptedException or ObjectDisposedException)
            {
                // The exchange went away (a temporary endpoint) or the duplicator is closing: this copy is skipped.
            }
            finally
            {
                Interlocked.Decrement(ref pending);
            }
        });
    }

    private async Task KeepBindingAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(2), stopping.Token);
                await BindNewExchangesAsync(stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task BindNewExchangesAsync(CancellationToken cancellationToken)
    {
        foreach (var exchange in await TestInfrastructure.ListExchangesAsync(virtualHost, cancellationToken))
        {
            // Error and skipped exchanges hold what consumers gave up on: copying those would only add noise.
            if (exchange.EndsWith("_error", StringComparison.Ordinal) || exchange.EndsWith("_skipped", StringComparison.Ordinal)
                || !bound.TryAdd(exchange, true))
            {
                continue;
            }

            await consuming.QueueBindAsync(queue, exchange, routingKey: string.Empty, cancellationToken: cancellationToken);
        }
    }
}
