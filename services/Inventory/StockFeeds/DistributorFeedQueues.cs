using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Brokering.Inventory.Data;
using Brokering.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using RabbitMQ.Client;

namespace Brokering.Inventory.StockFeeds;

/// <summary>
/// Each distributor's own AMQP feed queue on the feeds virtual host (docs/inventory.md, "Each distributor's own feed queue"): the topic exchange
/// <see cref="Exchange"/> routes by distributor id to the quorum queue <c>stock-feed.{id}.updates</c>, bounded on its
/// own (policy <c>stock-feed-distributor-bounds</c>), and a distributor's broker account may publish there with its
/// own id as routing key only (topic permission), so a distributor flooding its feed fills its own queue and has only
/// its own publishes refused (docs/inventory.md, "Each distributor's own feed queue").
/// <para>
/// Only a distributor with a feed key has a queue: the key is what the AMQP feed needs to accept anything, so setting
/// it (<c>PUT /v1/distributors/{id}/feed-key</c>) is the opt-in. Registering a distributor costs the broker nothing
/// here, and at start a replica consumes the keyed distributors' queues in the background, whatever the number of
/// registered ones.
/// </para>
/// <para>
/// One connection and one channel consume every such queue, one consumer tag per queue, rather than a MassTransit
/// receive endpoint each: an endpoint brings its own channel, topology pass and start-up handshake, which made a
/// replica on a database of hundreds of distributors spend minutes connecting (the revert in fd3800f). A consumer is
/// a single <c>basic.consume</c> on the shared channel. Each delivery goes through <see cref="StockFeedReceiver"/>, the
/// path the shared <c>stock-feed</c> endpoint uses (size cap, signature on the raw body before parsing, delivery limit,
/// refusal of an update naming another distributor), with that endpoint's database-only retry and its move of a
/// refused message to the queue's <c>_error</c> queue with the reason in <c>MT-Fault-Message</c>, done here by hand.
/// </para>
/// </summary>
public sealed class DistributorFeedQueues(
    BrokerAddress broker, IServiceScopeFactory scopes, IOptions<InventoryOptions> options, TimeProvider clock, ILogger<DistributorFeedQueues> logger)
    : BackgroundService
{
    /// <summary>The exchange distributors publish their own feed to, their id as routing key.</summary>
    public const string Exchange = "stock-feeds";

    private const string QueuePrefix = "stock-feed.";

    // The id is never last: the error queue is {queue}_error, as MassTransit names it for stock-feed, and ids may
    // contain '_', so with the id last distributor "a_error"'s feed would be distributor "a"'s error queue.
    private const string QueueSuffix = ".updates";

    // The sessions' consumers use these too.
    private readonly IServiceScopeFactory scopes = scopes;
    private readonly TimeProvider clock = clock;
    private readonly ILogger<DistributorFeedQueues> logger = logger;

    // Distributors whose queue this replica should consume: fed by the start-up scan, the rescans and PUT feed-key.
    private readonly Channel<string> wanted = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    // Declaring and the error queue's publishes share one channel; RabbitMQ.Client runs one RPC at a time on a channel.
    private readonly SemaphoreSlim topology = new(1, 1);

    private volatile Session? session;

    /// <summary>The queue a distributor's own AMQP feed waits in until inventory applies it.</summary>
    public static string QueueOf(string distributorId) => $"{QueuePrefix}{distributorId}{QueueSuffix}";

    /// <summary>
    /// Declares the distributor's queue and its binding on the broker (idempotent) and has this replica consume it.
    /// Returns once the queue exists, so the distributor's first publish is routed; the consumer follows in the
    /// background (until then the update waits in the queue). Throws <see cref="FeedQueueUnavailableException"/> when
    /// the feeds broker cannot be reached within <see cref="InventoryOptions.FeedQueueDeclareTimeout"/>.
    /// </summary>
    public async Task OpenAsync(string distributorId, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.FeedQueueDeclareTimeout);
        try
        {
            var current = await SessionAsync(timeout.Token);
            await current.DeclareAsync(distributorId, timeout.Token);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is OperationCanceledException or RabbitMQ.Client.Exceptions.RabbitMQClientException)
        {
            throw new FeedQueueUnavailableException(QueueOf(distributorId), e);
        }

        wanted.Writer.TryWrite(distributorId);
    }

    public override void Dispose()
    {
        topology.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start-up path: the host is ready at once, and the queues are consumed while it serves.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunSessionAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Messages stay in their queues meanwhile; the next session consumes every keyed distributor's again.
                logger.LogWarning(e, "Consuming the distributors' own feed queues stopped; reconnecting");
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                // Stopping: whatever the closing connection threw, unacknowledged messages are delivered again.
                break;
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(2), clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task RunSessionAsync(CancellationToken stoppingToken)
    {
        var factory = new ConnectionFactory { Uri = broker.First, AutomaticRecoveryEnabled = false, ClientProvidedName = "inventory stock-feeds" };
        await using var connection = await factory.CreateConnectionAsync(
            broker.Nodes.Select(node => new AmqpTcpEndpoint(node.Host, BrokerAddress.PortOf(node), factory.Ssl)).ToList(), stoppingToken);
        var control = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), stoppingToken);
        // A few deliveries at once, each of a different distributor: with a prefetch of one per consumer, a queue has one
        // message in hand at a time, so each distributor's updates are applied in order and a flooder gets its turn
        // like everyone else rather than the whole channel.
        await using var consuming = await connection.CreateChannelAsync(
            new CreateChannelOptions(false, false, consumerDispatchConcurrency: (ushort)Math.Clamp(options.Value.FeedQueueConcurrency, 1, 64)), stoppingToken);
        await consuming.BasicQosAsync(0, 1, global: false, stoppingToken);
        await control.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: stoppingToken);

        using var ended = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        // Cancelled before it is disposed (below), so a shutdown reported while the connection closes finds it cancelled.
        connection.ConnectionShutdownAsync += (_, _) => ended.IsCancellationRequested ? Task.CompletedTask : ended.CancelAsync();
        consuming.ChannelShutdownAsync += (_, _) => ended.IsCancellationRequested ? Task.CompletedTask : ended.CancelAsync();
        await using var current = new Session(this, connection, control, consuming, ended);
        session = current;
        try
        {
            var rescans = RescanAsync(ended.Token);
            try
            {
                await foreach (var distributorId in wanted.Reader.ReadAllAsync(ended.Token))
                {
                    try
                    {
                        await current.ConsumeAsync(distributorId, ended.Token);
                    }
                    catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (connection.IsOpen && consuming.IsOpen)
                    {
                        // One queue the broker refuses (say, made by hand with other arguments) must not keep the others
                        // unread: it is tried again at the next rescan, and the next declaration opens a new channel.
                        logger.LogError(e, "Declaring distributor {DistributorId}'s own feed queue was refused", distributorId);
                    }
                }
            }
            finally
            {
                await ended.CancelAsync();
                await rescans.ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        finally
        {
            session = null;
        }
    }

    // At the session's start and then every FeedQueueRescanInterval: the keyed distributors, among them those whose key
    // was set through another replica. Ids already consumed are skipped by the reader.
    private async Task RescanAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.FeedQueueRescanInterval, clock);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<InventoryDbContext>();
                var keyed = await db.Distributors.AsNoTracking().Where(d => d.FeedPublicKey != null).Select(d => d.Id).ToListAsync(cancellationToken);
                foreach (var distributorId in keyed)
                {
                    wanted.Writer.TryWrite(distributorId);
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Looking up the distributors with a feed key failed; trying again in {Interval}", options.Value.FeedQueueRescanInterval);
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    private async Task<Session> SessionAsync(CancellationToken cancellationToken)
    {
        // Only while a replica is starting or reconnecting is there no session; the caller's timeout bounds the wait.
        var current = session;
        while (current is null)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), clock, cancellationToken);
            current = session;
        }

        return current;
    }

    /// <summary>One connection's channels and what was declared and consumed on them.</summary>
    private sealed class Session(DistributorFeedQueues owner, IConnection connection, IChannel control, IChannel consuming, CancellationTokenSource end)
        : IAsyncDisposable
    {
        private readonly CancellationToken ended = end.Token;
        private readonly ConcurrentDictionary<string, byte> declared = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, byte> consumed = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, byte> errorQueues = new(StringComparer.Ordinal);

        public async Task DeclareAsync(string distributorId, CancellationToken cancellationToken)
        {
            if (declared.ContainsKey(distributorId))
            {
                return;
            }

            var queue = QueueOf(distributorId);
            await owner.topology.WaitAsync(cancellationToken);
            try
            {
                await OpenControlAsync(cancellationToken);
                // Bounds come from the policy, not from arguments: a queue redeclared with other arguments than it was
                // made with is refused (PRECONDITION_FAILED), so bounds changed by an operator would break every start.
                await control.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                    new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: cancellationToken);
                await control.QueueBindAsync(queue, Exchange, distributorId, cancellationToken: cancellationToken);
            }
            finally
            {
                owner.topology.Release();
            }

            declared[distributorId] = 0;
        }

        public async Task ConsumeAsync(string distributorId, CancellationToken cancellationToken)
        {
            if (consumed.ContainsKey(distributorId))
            {
                return;
            }

            await DeclareAsync(distributorId, cancellationToken);
            var queue = QueueOf(distributorId);
            await consuming.BasicConsumeAsync(queue, autoAck: false, consumerTag: queue, new Consumer(consuming, this, distributorId), cancellationToken);
            consumed[distributorId] = 0;
            owner.logger.LogInformation("Consuming distributor {DistributorId}'s own feed queue {Queue}", distributorId, queue);
        }

        // The broker closes a channel on any refusal (a queue declared with other arguments, a publish it returns):
        // the next use, under the topology lock, opens another rather than failing every distributor after it.
        private async Task OpenControlAsync(CancellationToken cancellationToken)
        {
            if (control.IsOpen)
            {
                return;
            }

            await control.DisposeAsync();
            control = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        }

        public ValueTask DisposeAsync() => control.DisposeAsync();

        // The broker cancels a consumer whose queue was deleted: it is declared and consumed again.
        public void Cancelled(string distributorId)
        {
            declared.TryRemove(distributorId, out _);
            consumed.TryRemove(distributorId, out _);
            owner.wanted.Writer.TryWrite(distributorId);
        }

        public async Task DeliverAsync(string distributorId, ulong deliveryTag, IReadOnlyBasicProperties properties, byte[] body)
        {
            var message = new AmqpFeedMessage(
                body,
                AmqpFeedMessage.Text(Header(properties, FeedSignature.Header)),
                AmqpFeedMessage.Text(Header(properties, FeedSignature.SignedAtHeader)),
                AmqpFeedMessage.DeliveryCountOf(Header(properties, "x-delivery-count")),
                distributorId);
            try
            {
                try
                {
                    await ReceiveAsync(message);
                }
                catch (Exception e) when (!ended.IsCancellationRequested)
                {
                    await MoveToErrorQueueAsync(QueueOf(distributorId), properties, body, e);
                }

                await consuming.BasicAckAsync(deliveryTag, multiple: false, ended);
            }
            catch (Exception e)
            {
                // Stopping, disconnected, or the move to the error queue failed: the session ends and the message, never
                // acknowledged, is delivered again (x-delivery-count + 1) to this replica's next session or another's.
                if (!ended.IsCancellationRequested)
                {
                    owner.logger.LogWarning(e, "A stock update on {Queue} was left unsettled; reconnecting", QueueOf(distributorId));
                    await end.CancelAsync();
                }
            }
        }

        private static object? Header(IReadOnlyBasicProperties properties, string name) =>
            properties.Headers is { } headers && headers.TryGetValue(name, out var value) ? value : null;

        private async Task ReceiveAsync(AmqpFeedMessage message)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await using var scope = owner.scopes.CreateAsyncScope();
                    var receiver = scope.ServiceProvider.GetRequiredService<StockFeedReceiver>();
                    await receiver.ReceiveAsync(message, scope.ServiceProvider.GetRequiredService<InventoryDbContext>(), ended);
                    return;
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException && attempt < StockFeedRetries.Database.Length)
                {
                    await Task.Delay(StockFeedRetries.Database[attempt], owner.clock, ended);
                }
            }
        }

        // As MassTransit moves a faulted message: the body and headers as published, the fault in MT-* headers, into
        // {queue}_error (bounded by policy stock-feed-evidence-bounds, drop-head). Confirmed before the original is
        // acknowledged, so a refused message is never lost; if the move fails the channel closes and it comes again.
        private async Task MoveToErrorQueueAsync(string queue, IReadOnlyBasicProperties original, byte[] body, Exception fault)
        {
            var errorQueue = $"{queue}_error";
            var headers = new Dictionary<string, object?>(original.Headers ?? new Dictionary<string, object?>(), StringComparer.Ordinal)
            {
                ["MT-Reason"] = "fault",
                ["MT-Fault-ExceptionType"] = fault.GetType().FullName,
                ["MT-Fault-Message"] = fault.Message,
                ["MT-Fault-Timestamp"] = owner.clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
            };
            var properties = new BasicProperties(original) { Headers = headers, DeliveryMode = DeliveryModes.Persistent };
            await owner.topology.WaitAsync(ended);
            try
            {
                await OpenControlAsync(ended);
                if (!errorQueues.ContainsKey(errorQueue))
                {
                    await control.QueueDeclareAsync(errorQueue, durable: true, exclusive: false, autoDelete: false,
                        new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: ended);
                    errorQueues[errorQueue] = 0;
                }

                await control.BasicPublishAsync(string.Empty, errorQueue, mandatory: true, properties, body, ended);
            }
            finally
            {
                owner.topology.Release();
            }

            if (fault is not StockFeedRejectedException)
            {
                owner.logger.LogError(fault, "A stock update on {Queue} could not be applied; moved to {ErrorQueue}", queue, errorQueue);
            }
        }
    }

    private sealed class Consumer(IChannel channel, Session session, string distributorId) : AsyncDefaultBasicConsumer(channel)
    {
        public override Task HandleBasicDeliverAsync(
            string consumerTag, ulong deliveryTag, bool redelivered, string exchange, string routingKey, IReadOnlyBasicProperties properties,
            ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
            // The body's memory is the client's, valid during this call only.
            session.DeliverAsync(distributorId, deliveryTag, properties, body.ToArray());

        public override async Task HandleBasicCancelAsync(string consumerTag, CancellationToken cancellationToken = default)
        {
            await base.HandleBasicCancelAsync(consumerTag, cancellationToken);
            session.Cancelled(distributorId);
        }
    }
}

/// <summary>The feeds broker did not declare a distributor's feed queue in time; its feed key is registered all the same.</summary>
public sealed class FeedQueueUnavailableException(string queue, Exception inner)
    : Exception($"The feed queue {queue} could not be declared on the feeds virtual host.", inner);
