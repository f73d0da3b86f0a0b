using System.Collections.Concurrent;
using MassTransit;

namespace Brokering.Testing;

/// <summary>
/// A second bus on a test's virtual host that keeps every message of the types it is told to watch, so a
/// test can see what left a service through the broker (and publish what other services would).
/// </summary>
public sealed class BrokerProbe : IAsyncDisposable
{
    private readonly ConcurrentQueue<object> received = new();
    private readonly IBusControl bus;

    private BrokerProbe(Uri virtualHost, string queue, Action<Subscriptions> subscribe)
    {
        var vhost = Uri.UnescapeDataString(virtualHost.AbsolutePath.TrimStart('/'));
        var credentials = virtualHost.UserInfo.Split(':', 2);
        bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(virtualHost.Host, (ushort)virtualHost.Port, vhost, host =>
            {
                host.Username(credentials[0].Length > 0 ? Uri.UnescapeDataString(credentials[0]) : "guest");
                host.Password(credentials.Length > 1 ? Uri.UnescapeDataString(credentials[1]) : "guest");
            });
            cfg.ReceiveEndpoint(queue, endpoint => subscribe(new Subscriptions(endpoint, received)));
        });
    }

    /// <summary>The probe's bus, for publishing as another service would.</summary>
    public IPublishEndpoint Publish => bus;

    /// <summary>The probe's bus, for sending to one service's endpoint as another service's consumer would.</summary>
    public ISendEndpointProvider Send => bus;

    /// <summary>
    /// Starts a probe whose queue <paramref name="queue"/> (unique per test project: probes of one project
    /// compete for its messages) receives the message types <paramref name="subscribe"/> names.
    /// </summary>
    public static async Task<BrokerProbe> StartAsync(Uri virtualHost, string queue, Action<Subscriptions> subscribe)
    {
        var probe = new BrokerProbe(virtualHost, queue, subscribe);
        await probe.bus.StartAsync();
        return probe;
    }

    /// <summary>Every message of type <typeparamref name="T"/> received so far.</summary>
    public IReadOnlyList<T> Received<T>() => [.. received.OfType<T>()];

    /// <summary>Every message of type <typeparamref name="T"/> received so far that matches.</summary>
    public IReadOnlyList<T> All<T>(Func<T, bool> predicate) => [.. received.OfType<T>().Where(predicate)];

    /// <summary>Waits until a message of type <typeparamref name="T"/> that matches has arrived (20 s unless told).</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool> predicate, TimeSpan? timeout = null) =>
        (await Eventually.Until(() => Task.FromResult(received.OfType<T>().FirstOrDefault(predicate)), found => found is not null,
            timeout ?? TimeSpan.FromSeconds(20), $"a {typeof(T).Name} matching the condition", TimeSpan.FromMilliseconds(50)))!;

    public async ValueTask DisposeAsync() => await bus.StopAsync();

    /// <summary>The message types a probe keeps.</summary>
    public sealed class Subscriptions
    {
        private readonly IReceiveEndpointConfigurator endpoint;
        private readonly ConcurrentQueue<object> received;

        internal Subscriptions(IReceiveEndpointConfigurator endpoint, ConcurrentQueue<object> received)
        {
            this.endpoint = endpoint;
            this.received = received;
        }

        /// <summary>Keep every <typeparamref name="T"/> published or sent to the probe.</summary>
        public Subscriptions Keep<T>()
            where T : class
        {
            endpoint.Handler<T>(context =>
            {
                received.Enqueue(context.Message);
                return Task.CompletedTask;
            });
            return this;
        }
    }
}
