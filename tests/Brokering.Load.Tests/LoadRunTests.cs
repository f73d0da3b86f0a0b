using Shouldly;

namespace Brokering.Load.Tests;

/// <summary>
/// The load generator's engine, driven in-process as the fault suite would drive it: a short, gentle scramble
/// against a fresh whole system must leave every reservation ended and every invariant holding.
/// </summary>
public sealed class LoadRunTests
{
    [Fact]
    public async Task A_short_scramble_with_the_cutoff_moved_midway_ends_every_reservation_and_breaks_no_invariant()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var output = TestContext.Current.TestOutputHelper!;
        await using var system = await SelfHostedSystem.StartAsync();
        var plan = new LoadPlan
        {
            Buyers = 4,
            Distributors = 2,
            Skus = 2,
            Rate = 1,
            Duration = TimeSpan.FromSeconds(8),
            FeedInterval = TimeSpan.FromSeconds(1),
            MoveCutoffAt = TimeSpan.FromSeconds(6),
            CutoffLead = TimeSpan.FromSeconds(15),
            // Patience, not a threshold: the machine is shared and may be slow.
            DrainTimeout = TimeSpan.FromMinutes(5),
        };

        var report = await new LoadRun(plan, system.Target, new Progress<LoadProgress>(p => output.WriteLine(ReportLine(p)))).RunAsync(cancellationToken);

        output.WriteLine($"submitted {report.Submitted}, accepted {report.Accepted}, ended {report.Ended}, outcomes: "
            + string.Join(", ", report.Outcomes.Select(o => $"{o.Key} {o.Value}")));
        output.WriteLine($"submit → terminal: {report.SubmitToTerminal}");
        report.Accepted.ShouldBeGreaterThan(0, report.FirstFailure);
        report.StillOpen.ShouldBe(0, $"every accepted reservation should have ended:\n{system.Logs}");
        report.Ended.ShouldBe(report.Accepted);
        report.Outcomes.Keys.ShouldAllBe(state => Brokering.Invariants.InvariantChecker.TerminalStates.Contains(state));
        report.Outcomes.ShouldContainKey("Rejected", "the listed party's reservations are turned away at screening");
        report.FeedUpdates.ShouldBeGreaterThan(2);
        report.MovedCutoff.ShouldNotBeNull();
        report.Invariants.ShouldNotBeNull();
        report.Invariants.Passed.ShouldBeTrue(report.Invariants.ToString());
        report.Clean.ShouldBeTrue();
    }

    [Fact]
    public async Task A_happy_path_run_confirms_every_reservation_however_many_buyers_take_part()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var output = TestContext.Current.TestOutputHelper!;
        await using var system = await SelfHostedSystem.StartAsync();
        var plan = new LoadPlan
        {
            HappyPath = true,
            // More buyers than the cast has names, so the names (and end users) come round again.
            Buyers = 10,
            Distributors = 2,
            Skus = 2,
            Rate = 2,
            Duration = TimeSpan.FromSeconds(6),
            Supply = LoadPlan.HappyPathSupply,
            DrainTimeout = TimeSpan.FromMinutes(5),
        };

        var report = await new LoadRun(plan, system.Target, new Progress<LoadProgress>(p => output.WriteLine(ReportLine(p)))).RunAsync(cancellationToken);

        output.WriteLine("outcomes: " + string.Join(", ", report.Outcomes.Select(o => $"{o.Key} {o.Value}")));
        report.Accepted.ShouldBeGreaterThan(0, report.FirstFailure);
        report.Ended.ShouldBe(report.Accepted, $"every accepted reservation should have ended:\n{system.Logs}");
        report.Outcomes.Keys.ShouldBe(["Confirmed"], "nothing on the happy path is refused, short of stock or waiting for a buyer");
        report.Confirmations.ShouldBe(0, "every reservation confirms itself");
        report.Invariants.ShouldNotBeNull();
        report.Invariants.Passed.ShouldBeTrue(report.Invariants.ToString());
        var calls = report.Work?.GrpcCalls.ShouldNotBeNull("the services' request counters are read");
        calls!.GetValueOrDefault("Compliance/Screen").ShouldBeGreaterThanOrEqualTo(report.Accepted, "every reservation is screened");
        calls!.GetValueOrDefault("HoldsLedger/CommitHolds").ShouldBeGreaterThanOrEqualTo(report.Accepted, "every reservation is committed");
    }

    [Fact]
    public void The_gRPC_calls_a_service_answered_are_read_by_method_from_its_request_counter_summed_over_statuses()
    {
        const string Scrape = """
            # TYPE http_server_request_duration_seconds histogram
            http_server_request_duration_seconds_bucket{http_route="/brokering.inventory.v1.HoldsLedger/PlaceHolds",le="0.005"} 7
            http_server_request_duration_seconds_count{otel_scope_name="Microsoft.AspNetCore.Hosting",http_request_method="POST",http_response_status_code="200",http_route="/brokering.inventory.v1.HoldsLedger/PlaceHolds",network_protocol_version="2"} 30
            http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/brokering.inventory.v1.HoldsLedger/PlaceHolds",error_type="x"} 2
            http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/brokering.compliance.v1.Compliance/Screen"} 12
            http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/v1/reservations/changes"} 138
            """;

        var counts = WorkCounters.GrpcRequestCounts(Scrape).GroupBy(c => c.Method).ToDictionary(g => g.Key, g => g.Sum(c => c.Count));

        counts.ShouldBe(new Dictionary<string, long> { ["HoldsLedger/PlaceHolds"] = 32, ["Compliance/Screen"] = 12 }, ignoreOrder: true);
    }

    private static string ReportLine(LoadProgress p) =>
        $"[{p.Elapsed.TotalSeconds:0}s] {p.Phase}: submitted {p.Submitted}, accepted {p.Accepted}, open {p.Open}, ended {p.Ended}";
}
