using Brokering.Testing.Faults;
using Brokering.Testing.Installation;

namespace Brokering.Faults.Tests;

/// <summary>
/// The servers under the services go away mid-load and come back: RabbitMQ stopped and started again, PostgreSQL
/// stopped in immediate mode (no checkpoint, every session cut, crash recovery at the next start) and started
/// again, or a PostgreSQL primary lost for good and its standby promoted. Each scenario runs on private servers of
/// its own so the shared ones are never touched.
/// </summary>
[Collection(nameof(FaultSuite))]
public sealed class InfrastructureRestartTests
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Stopping_and_restarting_RabbitMQ_mid_run_loses_no_reservation_and_applies_every_effect_once()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var broker = await PrivateRabbitMq.StartAsync(cancellationToken);
        await using var system = new BrokeringSystem(FaultScenario.Options(new BrokeringSystemOptions { Broker = broker.AmqpUri }));
        await system.InitializeAsync();

        await FaultScenario.RunAsync("RabbitMQ stopped and restarted", system, async (load, token) =>
        {
            await Task.Delay(load * 0.3, token);
            await broker.StopAsync();
            await Task.Delay(Outage, token);
            await broker.StartAgainAsync(token);
        }, cancellationToken);
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
