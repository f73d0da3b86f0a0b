using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Brokering.ServiceDefaults;

/// <summary>
/// A connection and one channel of a service's own to its broker, for what its MassTransit bus does not express (queues
/// named per tenant at run time, bindings it manages itself): opened on first use on the first node of the cluster that
/// answers, and opened afresh by the next caller once it has closed or been reset (a refusal closes a channel, a timeout
/// leaves it mid-RPC). RabbitMQ.Client runs one RPC at a time on a channel: callers serialise their use.
/// </summary>
public sealed class BrokerChannel(BrokerAddress broker, string clientName, CreateChannelOptions? options, ILogger logger) : IAsyncDisposable
{
    private IConnection? connection;
    private IChannel? channel;

    /// <summary>
    /// The open channel, or a new one on a new connection; <paramref name="opened"/> runs on a new one before it is handed
    /// out (e.g. to declare what every use needs).
    /// </summary>
    public async Task<IChannel> OpenAsync(Func<IChannel, CancellationToken, Task>? opened, CancellationToken cancellationToken)
    {
        if (channel is { IsOpen: true })
        {
            return channel;
        }

        await ResetAsync();
        var factory = new ConnectionFactory { Uri = broker.First, AutomaticRecoveryEnabled = false, ClientProvidedName = clientName };
        // The first node of a cluster that answers (each node's host and port; account and virtual host as the URI says).
        connection = await factory.CreateConnectionAsync(
            broker.Nodes.Select(node => new AmqpTcpEndpoint(node.Host, BrokerAddress.PortOf(node), factory.Ssl)).ToList(), cancellationToken);
        channel = await connection.CreateChannelAsync(options, cancellationToken);
        if (opened is not null)
        {
            await opened(channel, cancellationToken);
        }

        return channel;
    }

    /// <summary>Closes the channel and its connection, if open; the next <see cref="OpenAsync"/> opens new ones.</summary>
    public async Task ResetAsync()
    {
        try
        {
            if (channel is not null)
            {
                await channel.DisposeAsync();
            }

            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
        catch (Exception e)
        {
            logger.LogDebug(e, "Closing the broker connection {Client} failed", clientName);
        }

        channel = null;
        connection = null;
    }

    public async ValueTask DisposeAsync() => await ResetAsync();
}
