using System.Collections.Concurrent;
using Brokering.Contracts.Ordering;
using MassTransit;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>
/// A second bus on the test's virtual host, subscribed to the commands and events ordering publishes,
/// so a test can see what left the service through the broker (and publish what other services would).
/// </summary>
public sealed class BusProbe : IAsyncDisposable
{
    private readonly ConcurrentQueue<object> received = new();
    private IBusControl bus = null!;

    public IPublishEndpoint Publish => bus;

    public static async Task<BusProbe> StartAsync(Uri virtualHost)
    {
        var probe = new BusProbe();
        var vhost = Uri.UnescapeDataString(virtualHost.AbsolutePath.TrimStart('/'));
        probe.bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(virtualHost.Host, (ushort)virtualHost.Port, vhost, host =>
            {
                host.Username("guest");
                host.Password("guest");
            });
            cfg.ReceiveEndpoint("ordering-tests-probe", endpoint =>
            {
                endpoint.Handler<ReleaseReservationHolds>(probe.Keep);
                endpoint.Handler<RescreenReservation>(probe.Keep);
                endpoint.Handler<ScreenReservation>(probe.Keep);
                endpoint.Handler<ReservationStatusChanged>(probe.Keep);
            });
        });
        await probe.bus.StartAsync();
        return probe;
    }

    /// <summary>Waits until a message of type <typeparamref name="T"/> that matches has arrived.</summary>
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

    public IReadOnlyList<T> Received<T>() => [.. received.OfType<T>()];

    public async ValueTask DisposeAsync() => await bus.StopAsync();

    private Task Keep<T>(ConsumeContext<T> context)
        where T : class
    {
        received.Enqueue(context.Message);
        return Task.CompletedTask;
    }
}
