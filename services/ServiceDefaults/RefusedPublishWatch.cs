using System.Collections.Concurrent;
using MassTransit;
using MassTransit.RabbitMqTransport;
using MassTransit.RabbitMqTransport.Configuration;
using MassTransit.Transports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using BrokerPublishException = RabbitMQ.Client.Exceptions.PublishException;

namespace Brokering.ServiceDefaults;

/// <summary>
/// Watches every send and publish of the service's bus for the broker refusing (negatively confirming) one destination
/// for longer than a leader election takes, and then reconnects the bus, so every channel starts afresh.
/// </summary>
/// <remarks>
/// Why: a RabbitMQ 3.10 channel remembers, from its first publish to a quorum queue, which node led that queue. A channel
/// whose first publish lands in the instant after the leader's node died (its queue record not yet updated) keeps
/// asking the dead node, and the broker refuses every later publish of that channel to that queue, for as long as the
/// channel lives, although the queue has long elected a new leader (rabbit_fifo_client: the first enqueue's version
/// check on the remembered leader returns <c>nodedown</c> and leaves the client unchanged; fixed upstream in 3.11 by
/// preferring the live leader board). MassTransit keeps one channel per receive endpoint and one for the bus's own
/// sends, and a refused publish does not replace it: the outbox relay then retries the same channel forever and the
/// reservations behind it never reach their saga. A new connection gives new channels, which read the current leader.
/// A refusal that lasts longer than <see cref="RefusedFor"/> is not an election any more; reconnecting is then cheap
/// next to a saga that never starts (deliveries in flight are redelivered, and every consumer is idempotent).
/// </remarks>
public sealed class RefusedPublishWatch(IServiceProvider services, TimeProvider time, ILogger<RefusedPublishWatch> logger)
    : ISendObserver, IPublishObserver
{
    /// <summary>How long one destination must have been refused, with no publish to it confirmed since, before the bus reconnects.</summary>
    public static readonly TimeSpan RefusedFor = TimeSpan.FromSeconds(10);

    /// <summary>The least time between two reconnections, so a queue that truly lost its majority does not churn every consumer.</summary>
    public static readonly TimeSpan BetweenReconnections = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<Uri, (DateTimeOffset Since, DateTimeOffset Last)> refusals = new();
    private readonly Lock gate = new();
    private DateTimeOffset? lastReconnection;

    /// <summary>How many times the watch reconnected the bus (for tests and the log).</summary>
    public int Reconnections { get; private set; }

    /// <summary>
    /// Records a refusal of <paramref name="destination"/>; returns whether the bus should reconnect now (at most once per
    /// <see cref="BetweenReconnections"/>), in which case every destination's record starts over.
    /// </summary>
    public bool Refused(Uri destination)
    {
        var now = time.GetUtcNow();
        // Refused without a pause: MassTransit retries a refused send about every second, so a gap as long as the
        // threshold means nobody was sending there, and the refusals since are a new episode.
        var (since, _) = refusals.AddOrUpdate(destination, (now, now),
            (_, previous) => now - previous.Last >= RefusedFor ? (now, now) : (previous.Since, now));
        if (now - since < RefusedFor)
        {
            return false;
        }

        lock (gate)
        {
            if (lastReconnection is { } last && now - last < BetweenReconnections)
            {
                return false;
            }

            lastReconnection = now;
            Reconnections++;
            refusals.Clear();
            return true;
        }
    }

    /// <summary>Records that the broker confirmed a publish to <paramref name="destination"/>: its refusals, if any, are over.</summary>
    public void Confirmed(Uri destination) => refusals.TryRemove(destination, out _);

    /// <summary>
    /// A negative publisher confirm (the broker took the message and refused it), as MassTransit reports it; a returned
    /// (unroutable) message, a closed connection or a timeout is not one, and the bus recovers from those by itself.
    /// </summary>
    public static bool IsRefusal(Exception exception) =>
        exception is RabbitMqConnectionException { InnerException: BrokerPublishException { IsReturn: false } };

    Task ISendObserver.PreSend<T>(SendContext<T> context) => Task.CompletedTask;

    Task ISendObserver.PostSend<T>(SendContext<T> context) => Observe(context.DestinationAddress, null);

    Task ISendObserver.SendFault<T>(SendContext<T> context, Exception exception) => Observe(context.DestinationAddress, exception);

    Task IPublishObserver.PrePublish<T>(PublishContext<T> context) => Task.CompletedTask;

    Task IPublishObserver.PostPublish<T>(PublishContext<T> context) => Observe(context.DestinationAddress, null);

    Task IPublishObserver.PublishFault<T>(PublishContext<T> context, Exception exception) => Observe(context.DestinationAddress, exception);

    private Task Observe(Uri? destination, Exception? exception)
    {
        if (destination is null)
        {
            return Task.CompletedTask;
        }

        if (exception is null)
        {
            Confirmed(destination);
            return Task.CompletedTask;
        }

        if (!IsRefusal(exception) || !Refused(destination))
        {
            return Task.CompletedTask;
        }

        logger.LogWarning(
            "The broker has refused every publish to {Destination} for {RefusedFor} or more although it is connected: reconnecting the bus so its channels start afresh (a channel can keep a dead quorum queue leader after a node's loss)",
            destination, RefusedFor);
        // Off the sender's path: the send that saw the refusal is still inside MassTransit's retry on this connection.
        _ = Task.Run(ReconnectAsync);
        return Task.CompletedTask;
    }

    private async Task ReconnectAsync()
    {
        try
        {
            var bus = services.GetRequiredService<IBusInstance>();
            if (bus.HostConfiguration is not IRabbitMqHostConfiguration rabbit)
            {
                return;
            }

            using var timeout = new CancellationTokenSource(RefusedFor);
            // Closing the connection is what MassTransit answers with a new one: every receive endpoint and send
            // channel is opened again on it (on whichever node of the cluster answers first).
            await rabbit.ConnectionContextSupervisor.Send(
                Pipe.ExecuteAsync<ConnectionContext>(context => context.Connection.CloseAsync(200, "refused publishes: reconnecting", TimeSpan.FromSeconds(5), abort: false, timeout.Token)),
                timeout.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            logger.LogWarning(e, "Reconnecting the bus after refused publishes failed; the next refusal past the interval tries again");
        }
    }
}
