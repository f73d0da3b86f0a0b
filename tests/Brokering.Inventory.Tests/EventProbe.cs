using System.Collections.Concurrent;
using Brokering.Contracts.Inventory;
using MassTransit;

namespace Brokering.Inventory.Tests;

/// <summary>Subscribes to every inventory event on the broker and keeps what arrives, so tests can wait for one.</summary>
public sealed class EventProbe : IAsyncDisposable
{
    private readonly ConcurrentQueue<object> received = new();
    private IBusControl bus = null!;

    public static async Task<EventProbe> StartAsync(Uri virtualHost)
    {
        var probe = new EventProbe();
        var vhost = Uri.UnescapeDataString(virtualHost.AbsolutePath.TrimStart('/'));
        probe.bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            var credentials = virtualHost.UserInfo.Split(':', 2);
            cfg.Host(virtualHost.Host, (ushort)virtualHost.Port, vhost, host =>
            {
                host.Username(Uri.UnescapeDataString(credentials[0]));
                host.Password(credentials.Length > 1 ? Uri.UnescapeDataString(credentials[1]) : string.Empty);
            });
            cfg.ReceiveEndpoint("inventory-tests-probe", endpoint =>
            {
                endpoint.Handler<HoldsPlaced>(probe.Keep);
                endpoint.Handler<HoldsReleased>(probe.Keep);
                endpoint.Handler<HoldsCommitted>(probe.Keep);
                endpoint.Handler<HoldsExpired>(probe.Keep);
                endpoint.Handler<StockShortfallDetected>(probe.Keep);
                endpoint.Handler<StockAvailable>(probe.Keep);
            });
        });
        await probe.bus.StartAsync();
        return probe;
    }

    /// <summary>Every event of type <typeparamref name="T"/> received so far that matches.</summary>
    public IReadOnlyList<T> All<T>(Func<T, bool> predicate) => received.OfType<T>().Where(predicate).ToList();

    /// <summary>Waits until an event of type <typeparamref name="T"/> that matches has arrived.</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool> predicate, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            if (received.OfType<T>().FirstOrDefault(predicate) is { } found)
            {
                return found;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"No {typeof(T).Name} matching the condition arrived in time.");
    }

    public async ValueTask DisposeAsync() => await bus.StopAsync();

    private Task Keep<T>(ConsumeContext<T> context)
        where T : class
    {
        received.Enqueue(context.Message);
        return Task.CompletedTask;
    }
}
