using Brokering.Testing.Faults;
using Brokering.Testing.Installation;

namespace Brokering.Faults.Tests;

/// <summary>
/// Two replicas of every service on one database and one broker, as the scaling guide runs them: ordering's
/// replicas compete for the same queues and saga rows, inventory's for the same stock rows, and ordering's gRPC
/// calls are spread over both replicas of inventory and compliance. Midway one replica of ordering and one of
/// inventory are killed and started again.
/// </summary>
[Collection(nameof(FaultSuite))]
public sealed class ReplicaTests
{
    [Fact]
    public async Task Two_replicas_of_each_service_with_one_killed_mid_run_lose_nothing_and_apply_every_effect_once()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var proxies = new List<TcpFaultProxy>();
        try
        {
            await using var system = new BrokeringSystem(FaultScenario.Options(new BrokeringSystemOptions
            {
                Replicas = 2,
                RouteGrpc = (service, replicas) =>
                {
                    var proxy = TcpFaultProxy.Start(service, replicas.Select(replica => replica.Grpc));
                    proxies.Add(proxy);
                    return proxy.Address;
                },
            }));
            await system.InitializeAsync();

            await FaultScenario.RunAsync("2 replicas each, one ordering + one inventory killed", system, async (load, token) =>
            {
                await Task.Delay(load * 0.4, token);
                var victims = new[] { system.OrderingReplicas[1], system.InventoryReplicas[1] };
                foreach (var victim in victims)
                {
                    await victim.KillAsync();
                }

                await Task.Delay(TimeSpan.FromSeconds(4), token);
                foreach (var victim in victims)
                {
                    victim.StartAgain();
                    await victim.WaitUntilReadyAsync(TimeSpan.FromMinutes(2));
                }
            }, cancellationToken);
        }
        finally
        {
            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
        }
    }
}
