using Brokering.Testing.Faults;
using Brokering.Testing.Installation;
using Shouldly;

namespace Brokering.Faults.Tests;

/// <summary>
/// Faults between the services: gRPC calls from ordering to inventory and compliance delayed, cut and refused
/// through the project's TCP proxy; and RabbitMQ deliveries duplicated and reordered.
/// </summary>
[Collection(nameof(FaultSuite))]
public sealed class NetworkFaultTests
{
    [Fact]
    [Trait(FaultRun.Trait, FaultRun.FullOnly)]
    public async Task Delayed_cut_and_refused_gRPC_calls_to_inventory_and_compliance_lose_nothing_and_oversell_nothing()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var proxies = new List<TcpFaultProxy>();
        try
        {
            await using var system = new BrokeringSystem(FaultScenario.Options(new BrokeringSystemOptions
            {
                RouteGrpc = (service, replicas) =>
                {
                    var proxy = TcpFaultProxy.Start(service, replicas.Select(replica => replica.Grpc));
                    proxies.Add(proxy);
                    return proxy.Address;
                },
            }));
            await system.InitializeAsync();

            await FaultScenario.RunAsync("gRPC delayed, cut, refused", system, async (load, token) =>
            {
                // A cycle of faults, over and over until the load ends: slow network, connections reset, ports closed.
                var end = DateTime.UtcNow + load;
                var step = TimeSpan.FromSeconds(2);
                while (DateTime.UtcNow + step < end)
                {
                    proxies.ForEach(proxy => proxy.Delay = TimeSpan.FromMilliseconds(400));
                    await Task.Delay(step, token);
                    proxies.ForEach(proxy => proxy.Cut());
                    await Task.Delay(step, token);
                    proxies.ForEach(proxy => proxy.Refuse());
                    await Task.Delay(step, token);
                    proxies.ForEach(proxy => proxy.Pass());
                    await Task.Delay(step, token);
                }

                proxies.ForEach(proxy => proxy.Pass());
            }, cancellationToken);

            proxies.Sum(proxy => proxy.ConnectionsCut).ShouldBeGreaterThan(0, "the proxies should have cut live gRPC connections");
        }
        finally
        {
            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Every_message_delivered_twice_and_out_of_order_has_the_effect_of_one()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var system = new BrokeringSystem(FaultScenario.Options());
        await system.InitializeAsync();
        long copied;
        await using (var duplicator = await DeliveryDuplicator.StartAsync(system.Broker, cancellationToken))
        {
            await FaultScenario.RunAsync("every message twice, copies late", system, (_, _) => Task.CompletedTask, cancellationToken);
            copied = duplicator.Copied;
        }

        TestContext.Current.TestOutputHelper!.WriteLine($"{copied} messages delivered a second time");
        copied.ShouldBeGreaterThan(0, "the duplicator should have delivered copies");
    }
}
