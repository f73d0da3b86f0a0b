using Brokering.Testing.Installation;

namespace Brokering.Faults.Tests;

/// <summary>
/// kill -9 of each service in turn, mid-load, then a restart on the same ports: no graceful shutdown, in-flight
/// requests and unacknowledged messages simply vanish. Durable state (outbox, inbox, saga rows, scheduled timers,
/// idempotency records, holds) must carry every reservation to its end.
/// </summary>
[Collection(nameof(FaultSuite))]
public sealed class ServiceCrashTests
{
    [Fact]
    public Task Killing_inventory_mid_run_loses_no_reservation_and_oversells_nothing() => KillAndRestartAsync("Inventory");

    [Fact]
    [Trait(FaultRun.Trait, FaultRun.FullOnly)]
    public Task Killing_compliance_mid_run_loses_no_reservation_and_confirms_nothing_unscreened() => KillAndRestartAsync("Compliance");

    [Fact]
    [Trait(FaultRun.Trait, FaultRun.FullOnly)]
    public Task Killing_ordering_mid_run_loses_no_accepted_reservation_and_duplicates_no_effect() => KillAndRestartAsync("Ordering");

    private static async Task KillAndRestartAsync(string service)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var system = new BrokeringSystem(FaultScenario.Options());
        await system.InitializeAsync();
        var victim = system.Processes.First(process => process.Name == service);

        await FaultScenario.RunAsync($"kill -9 {service.ToLowerInvariant()}", system, async (load, token) =>
        {
            await Task.Delay(load * 0.3, token);
            await victim.KillAsync();
            await Task.Delay(TimeSpan.FromSeconds(3), token);
            victim.StartAgain();
            await victim.WaitUntilReadyAsync(TimeSpan.FromMinutes(2));
        }, cancellationToken);
    }
}
