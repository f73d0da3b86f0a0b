using Brokering.Testing.Faults;
using Brokering.Testing.Installation;

namespace Brokering.Faults.Tests;

/// <summary>
/// The servers under the services go away mid-load: a node of a RabbitMQ cluster killed for good, PostgreSQL
/// stopped in immediate mode (no checkpoint, every session cut, crash recovery at the next start) and started
/// again, or a PostgreSQL primary lost for good and its standby promoted. Each scenario runs on private servers of
/// its own so the shared ones are never touched.
/// </summary>
[Collection(nameof(FaultSuite))]
public sealed class InfrastructureRestartTests
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Killing_a_node_of_a_three_node_RabbitMQ_cluster_for_good_mid_run_loses_no_reservation_and_applies_every_effect_once()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var cluster = await PrivateRabbitMqCluster.StartAsync(3, cancellationToken);
        // The services are given every node, as the recipes give them a cluster; their queues are quorum queues,
        // declared once the cluster has formed, so each has a replica on all three nodes.
        await using var system = new BrokeringSystem(FaultScenario.Options(new BrokeringSystemOptions { Broker = cluster.ConnectionString }));
        await system.InitializeAsync();

        try
        {
            await FaultScenario.RunAsync("RabbitMQ cluster node killed (SIGKILL) for good", system, async (load, token) =>
            {
                await Task.Delay(load * 0.3, token);
                // The first node: every service connected to it first and declared its queues there, so it leads them all;
                // killing it takes every connection and every queue's leader at once, with publishes and deliveries in
                // flight. It never comes back: the rest of the run, and every reservation's end, is the other two nodes' work.
                await cluster.Nodes[0].KillAsync();
            }, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Which queues lost their majority or their leader is what a failure here needs explaining by.
            throw new InvalidOperationException($"{e.Message}\n--- the surviving nodes ---\n{await cluster.DiagnosticsAsync()}", e);
        }
    }

    [Fact]
    public async Task Stopping_PostgreSQL_in_immediate_mode_mid_run_loses_no_reservation_and_oversells_nothing()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var postgres = await PrivatePostgres.StartAsync(cancellationToken);
        await using var system = new BrokeringSystem(FaultScenario.Options(new BrokeringSystemOptions { PostgresServer = postgres.ConnectionString() }));
        await system.InitializeAsync();

        await FaultScenario.RunAsync("PostgreSQL stopped (immediate) and restarted", system, async (load, token) =>
        {
            await Task.Delay(load * 0.3, token);
            await postgres.StopImmediateAsync();
            await Task.Delay(Outage, token);
            await postgres.StartAgainAsync(token);
        }, cancellationToken);
    }

    [Fact]
    [Trait(FaultRun.Trait, FaultRun.FullOnly)]
    public async Task Losing_the_PostgreSQL_primary_for_good_and_promoting_its_synchronous_standby_mid_run_loses_no_reservation_and_oversells_nothing()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var primary = await PrivatePostgres.StartAsync(cancellationToken);
        await using var standby = await PrivatePostgres.StartStandbyAsync(primary, cancellationToken);
        // The services connect as the recipes tell operators of a server with a standby to: both hosts, and only the
        // one that accepts writes (Target Session Attributes=read-write), so they follow the promotion by themselves.
        await using var system = new BrokeringSystem(FaultScenario.Options(new BrokeringSystemOptions
        {
            PostgresServer = PrivatePostgres.FailoverConnectionString(primary, standby),
        }));
        await system.InitializeAsync();

        await FaultScenario.RunAsync("PostgreSQL primary lost, synchronous standby promoted", system, async (load, token) =>
        {
            await Task.Delay(load * 0.3, token);
            // Immediate mode: every session cut, no checkpoint, as a crash; the old primary never comes back.
            await primary.StopImmediateAsync();
            await Task.Delay(TimeSpan.FromSeconds(2), token);
            await standby.PromoteAsync(token);
        }, cancellationToken);
    }
}
