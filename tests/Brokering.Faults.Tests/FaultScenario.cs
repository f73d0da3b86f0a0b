using System.Globalization;
using Brokering.Invariants;
using Brokering.Testing.Installation;
using Shouldly;
using Brokering.Testing;
using Brokering.Testing.Scramble;

namespace Brokering.Faults.Tests;

/// <summary>Every scenario runs alone: each starts a whole installation, and two shared cores are little enough.</summary>
[CollectionDefinition(nameof(FaultSuite), DisableParallelization = true)]
public sealed class FaultSuite;

/// <summary>
/// One fault scenario: the <see cref="Workload"/> runs for <see cref="LoadDuration"/> while the fault is injected,
/// then the system is given time to settle (held reservations lapse, the scenario cutoff passes), and the
/// invariant checker must find every accepted reservation ended and nothing else wrong.
/// </summary>
public static class FaultScenario
{
    /// <summary>
    /// How long the load runs in each scenario: 20 s by default (CI), <c>BROKERING_FAULTS_LOAD_SECONDS</c> for the
    /// long version.
    /// </summary>
    public static TimeSpan LoadDuration { get; } = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("BROKERING_FAULTS_LOAD_SECONDS"), CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? seconds : 20);

    /// <summary>
    /// When set (<c>BROKERING_FAULTS_ABOVE_CAPACITY</c>, reservations per second), every scenario also offers a burst at
    /// that rate for the first half of its load, so its fault strikes while the system is behind: a backlog of tens of
    /// seconds at rates above what the machine carries. Unset (CI), the scenarios run at the workload's own pace.
    /// </summary>
    public static double? AboveCapacity { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("BROKERING_FAULTS_ABOVE_CAPACITY"), NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate > 0
            ? rate : null;

    /// <summary>How long the system gets, after the load, to bring every reservation to an end.</summary>
    private static readonly TimeSpan SettlePatience = Workload.CutoffAfterLoad + TimeSpan.FromMinutes(3);

    /// <summary>The services' configuration in a fault scenario (short holds), with <paramref name="options"/>' other choices.</summary>
    public static BrokeringSystemOptions Options(BrokeringSystemOptions? options = null) =>
        (options ?? new BrokeringSystemOptions()) with { Environment = Workload.Environment, ReadyPatience = TimeSpan.FromMinutes(3) };

    /// <summary>
    /// Runs the load on <paramref name="system"/> with <paramref name="fault"/> injected alongside (it is handed the load's
    /// duration and should be done by its end), then checks the outcome.
    /// </summary>
    public static Task RunAsync(string scenario, BrokeringSystem system, Func<TimeSpan, CancellationToken, Task> fault, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(fault);
        return RunAsync(scenario, system, (_, load, token) => fault(load, token), cancellationToken);
    }

    /// <summary>As above, for a fault that acts through the workload itself (a burst of buyers, a rule change).</summary>
    public static async Task RunAsync(string scenario, BrokeringSystem system, Func<Workload, TimeSpan, CancellationToken, Task> fault, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(fault);
        var output = TestContext.Current.TestOutputHelper!;
        var started = DateTime.UtcNow;
        void Log(string message) => output.WriteLine($"[{(DateTime.UtcNow - started).TotalSeconds,6:0.0}s] {message}");

        var workload = new Workload(system, Log);
        await workload.PrepareAsync(LoadDuration, cancellationToken);
        Log($"{scenario}: load for {LoadDuration.TotalSeconds:0} s");
        var load = workload.RunAsync(LoadDuration, cancellationToken);
        var burst = Task.CompletedTask;
        if (AboveCapacity is { } rate)
        {
            Log($"above capacity: a burst of {rate} reservations/s for {LoadDuration.TotalSeconds * 0.5:0} s besides");
            burst = workload.BurstAsync(rate, LoadDuration * 0.5, cancellationToken);
        }

        var injection = fault(workload, LoadDuration, cancellationToken);
        await Task.WhenAll(load, injection, burst);
        var result = await load;
        Log($"load over: {result.Submitted} submitted, {result.Accepted.Count} accepted, {result.Unanswered} unanswered, {result.FeedUpdates} feed updates");

        Log("at the end of the load: " + await StatesAsync(system, cancellationToken));
        // A reservation that cannot get on by itself (Held or AwaitingStock or ended) after the fault is stuck: the
        // pulled-in cutoff below would end it and hide that, so it is recorded here and fails the scenario.
        var stuck = await WaitUntilRestingAsync(system, Log, cancellationToken);
        await workload.PullCutoffInAsync(cancellationToken);
        var report = await SettleAsync(system, Log, cancellationToken);
        Log("reasons: " + string.Join("; ", report.Reservations
            .GroupBy(reservation => $"{reservation.State}: {reservation.StatusReason ?? "-"}")
            .Select(group => $"{group.Key} ×{group.Count()}")));
        var row = Row(scenario, result, report);
        Log(row);
        FaultResults.Record(row);
        if (!report.Passed || stuck.Count > 0)
        {
            output.WriteLine(report.ToString());
            output.WriteLine(system.Logs);
        }

        result.Accepted.ShouldNotBeEmpty("the load should get reservations accepted despite the fault");
        result.Refused.ShouldBeEmpty("no well-formed submission should be refused");
        result.Accepted.Except(report.Reservations.Select(reservation => reservation.Id))
            .ShouldBeEmpty("every reservation answered 202 Accepted should be stored");
        stuck.ShouldBeEmpty($"every reservation should come to rest by itself after {scenario} (Held, AwaitingStock or ended) before the cutoff is pulled in");
        report.Passed.ShouldBeTrue($"every invariant should hold after {scenario}:\n{report}");
    }

    /// <summary>
    /// Waits (within patience) until every reservation rests (Held, AwaitingStock or ended), so each gets its own
    /// way to an end (lapsed holds, auto-confirmation) before the cutoff is pulled in on whatever still waits.
    /// </summary>
    /// <returns>The reservations that did not come to rest (id: state), empty when all did.</returns>
    private static async Task<IReadOnlyList<string>> WaitUntilRestingAsync(BrokeringSystem system, Action<string> log, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> restless = ["(the databases could not be read)"];
        var rests = await Eventually.Latest(async () =>
        {
            try
            {
                var report = await system.CheckInvariantsAsync(new InvariantCheckOptions { RequireTerminal = false }, cancellationToken);
                restless = [.. report.Reservations
                    .Where(reservation => !(reservation.State is { } state && ReservationView.RestingStates.Contains(state)))
                    .Select(reservation => $"{reservation.Id}: {reservation.State ?? "no saga yet"} ({reservation.StatusReason ?? "-"})")];
                if (restless.Count == 0)
                {
                    log("every reservation rests: " + States(report));
                    return true;
                }
            }
            catch (Exception e) when (e is System.Data.Common.DbException or System.Net.Sockets.SocketException or IOException or TimeoutException)
            {
                log($"invariant check could not read the databases: {e.Message}");
            }

            return false;
        }, rest => rest, SettlePatience, TimeSpan.FromSeconds(2), cancellationToken: cancellationToken);
        if (rests)
        {
            return [];
        }

        log("not every reservation came to rest: " + await StatesAsync(system, cancellationToken) + "\n  " + string.Join("\n  ", restless));
        return restless;
    }

    private static async Task<string> StatesAsync(BrokeringSystem system, CancellationToken cancellationToken)
    {
        try
        {
            return States(await system.CheckInvariantsAsync(new InvariantCheckOptions { RequireTerminal = false }, cancellationToken));
        }
        catch (Exception e) when (e is System.Data.Common.DbException or System.Net.Sockets.SocketException or IOException or TimeoutException)
        {
            return $"(databases unreadable: {e.Message})";
        }
    }

    /// <summary>Waits until the invariant checker passes (everything ended and settled) or patience runs out; returns the last report.</summary>
    private static async Task<InvariantReport> SettleAsync(BrokeringSystem system, Action<string> log, CancellationToken cancellationToken)
    {
        InvariantReport? report = null;
        async Task<InvariantReport?> CheckAsync()
        {
            try
            {
                report = await system.CheckInvariantsAsync(cancellationToken: cancellationToken);
                if (report.Passed)
                {
                    log("settled: every invariant holds");
                }
            }
            catch (Exception e) when (e is System.Data.Common.DbException or System.Net.Sockets.SocketException or IOException or TimeoutException)
            {
                // A database still coming back: look again.
                log($"invariant check could not read the databases: {e.Message}");
            }

            return report;
        }

        // Past patience it returns the last report it could read, to be judged; until it has read one it keeps trying.
        return await Eventually.Latest(CheckAsync, last => last?.Passed == true, SettlePatience, TimeSpan.FromSeconds(2), cancellationToken: cancellationToken)
            ?? (await Eventually.Until(CheckAsync, last => last is not null, TimeSpan.MaxValue, interval: TimeSpan.FromSeconds(2), cancellationToken: cancellationToken))!;
    }

    private static string States(InvariantReport report) => string.Join(", ", report.Reservations
        .GroupBy(reservation => reservation.State ?? "no saga yet")
        .OrderByDescending(group => group.Count())
        .Select(group => $"{group.Key} {group.Count()}"));

    private static string Row(string scenario, WorkloadResult result, InvariantReport report)
    {
        var states = States(report);
        var invariants = report.Passed ? "pass" : $"FAIL ({report.Violations.Count()} violations)";
        return $"| {scenario} | {result.Submitted} | {result.Accepted.Count} | {states} | {invariants} |";
    }
}

/// <summary>
/// Which scenarios CI's test run (deploy/local/test.sh) leaves to deploy/local/faults.sh: a whole installation per
/// scenario costs minutes on two shared cores, so CI runs a few that cover each kind of fault (kill -9 of inventory,
/// replicas with ordering and inventory killed, every message twice and late, a RabbitMQ cluster node killed, PostgreSQL
/// restarted) and
/// excludes the slower rest with <c>--filter "FaultRun!=FullOnly"</c>; the README's fault-suite paragraph says which.
/// </summary>
public static class FaultRun
{
    /// <summary>The trait's name.</summary>
    public const string Trait = "FaultRun";

    /// <summary>Run by deploy/local/faults.sh only, not by CI.</summary>
    public const string FullOnly = "FullOnly";
}

/// <summary>Collects each scenario's line for the summary table <c>deploy/local/faults.sh</c> prints.</summary>
public static class FaultResults
{
    private static readonly Lock Gate = new();

    public static void Record(string row)
    {
        var path = Environment.GetEnvironmentVariable("BROKERING_FAULTS_RESULTS");
        if (!string.IsNullOrWhiteSpace(path))
        {
            lock (Gate)
            {
                File.AppendAllLines(path, [row]);
            }
        }
    }
}
