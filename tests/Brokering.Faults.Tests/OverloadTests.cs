using Brokering.Testing.Installation;

namespace Brokering.Faults.Tests;

/// <summary>
/// A scramble above what the system can process, with the cutoff pulled in while the backlog is long: reservations
/// accepted before the move reach their commit only after the new cutoff is in force, on screening decisions taken
/// under the old rules. The invariant checker must find nothing committed after the cutoff in force, and every
/// accepted reservation ended.
/// </summary>
[Collection(nameof(FaultSuite))]
public sealed class OverloadTests
{
    [Fact]
    public async Task A_burst_above_capacity_with_the_cutoff_pulled_in_mid_run_commits_nothing_after_the_cutoff_in_force()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var system = new BrokeringSystem(FaultScenario.Options());
        await system.InitializeAsync();

        await FaultScenario.RunAsync("overload, cutoff pulled in", system, async (workload, load, token) =>
        {
            // Several times what two shared cores get through, for half the load: a backlog of tens of seconds.
            var burst = workload.BurstAsync(40, load * 0.5, token);
            await Task.Delay(load * 0.4, token);
            // Effective a few seconds after publication, as the 2023 acceleration was, while the backlog still waits.
            await workload.MoveCutoffAsync(TimeSpan.FromSeconds(5), token);
            await burst;
        }, cancellationToken);
    }
}
