using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Brokering.Testing;
using Npgsql;

namespace Brokering.Load;

/// <summary>
/// The end-to-end benchmark: one fresh system, the scramble at each offered rate in turn, then on the same
/// PostgreSQL in the same run the machine's yardsticks (pgbench TPC-B at scale 10, and the bare conditional
/// UPDATE a hold is), written as a markdown section with a PNG of throughput and p99 latency against offered load.
/// </summary>
public static partial class LoadSweep
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    internal static async Task<int> RunAsync(Options options)
    {
        var rates = (options.Text("rates") ?? "2,5,10,20")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(rate => double.Parse(rate, Invariant)).ToList();
        var basePlan = options.Plan();
        var markdownPath = options.Text("markdown");
        var plotPath = options.Text("plot");
        var pgbenchSeconds = (int)(options.Number("pgbench-seconds") ?? 10);

        var steps = new List<(LoadReport Report, long Commits)>();
        var warmup = (Rate: options.Number("warmup-rate") ?? 20, Seconds: options.Number("warmup-seconds") ?? 20);
        var loadBefore = ProcessAccounting.LoadAverage();
        Console.WriteLine("Starting a fresh system (compliance, inventory, ordering)…");
        var started = DateTimeOffset.UtcNow;
        await using (var system = await SelfHostedSystem.StartAsync())
        {
            var databases = system.Target.Databases!;

            // Warm-up, not reported: a fresh process pays for JIT (tier-0 code, then the tier-1 recompilation of every method
            // a burst makes hot), EF Core model building and connection pools. Measured: in its first 30 s ordering spent
            // about 10 s of CPU doing so, half of what a 20 s step at 50 reservations/s costs it in all; a deployed system
            // running for days pays that once. So the warm-up runs the scramble long and fast enough for the hot paths to
            // be recompiled, and each step measures a warm system (--warmup-rate 0 for the cold figures).
            var (warmupRate, warmupSeconds) = warmup;
            if (warmupRate > 0 && warmupSeconds > 0)
            {
                Console.WriteLine(string.Create(Invariant, $"Warm-up: {warmupRate:0.#} reservations/s for {warmupSeconds:0} s (not reported)"));
                await new LoadRun(basePlan with
                {
                    Rate = warmupRate, Duration = TimeSpan.FromSeconds(warmupSeconds), MoveCutoffAt = null, RunTag = $"w{Guid.NewGuid().ToString("N")[..5]}",
                }, system.Target).RunAsync();
            }
            // A scramble is a race against a cutoff that compliance may pull in: unless every step already moves it, one more
            // step at the highest rate moves it in halfway through, judged by the same invariant checker.
            var plans = rates.Select(rate => basePlan with { Rate = rate }).ToList();
            if (basePlan.MoveCutoffAt is null && !options.Flag("no-cutoff-step") && !basePlan.HappyPath)
            {
                plans.Add(basePlan with { Rate = rates.Max(), MoveCutoffAt = basePlan.Duration / 2 });
            }

            foreach (var step in plans)
            {
                var plan = step with { RunTag = string.Create(Invariant, $"s{steps.Count}{Guid.NewGuid().ToString("N")[..5]}") };
                Console.WriteLine(string.Create(Invariant, $"--- {Offered(plan)} reservations/s for {plan.Duration.TotalSeconds:0} s (load average {ProcessAccounting.LoadAverage():0.00})"));
                var commitsBefore = await CommitsAsync(databases);
                var last = TimeSpan.Zero;
                var report = await new LoadRun(plan, system.Target, new Progress<LoadProgress>(p =>
                {
                    if (p.Elapsed - last >= TimeSpan.FromSeconds(10))
                    {
                        last = p.Elapsed;
                        Console.WriteLine(ReportConsole.Line(p));
                    }
                })).RunAsync();
                var commits = await CommitsAsync(databases) - commitsBefore;
                ReportConsole.Write(report);
                steps.Add((report, commits));
                if (!report.Clean)
                {
                    Console.WriteLine(system.Logs);
                }
            }
        }

        Console.WriteLine("Machine limits: pgbench on the same PostgreSQL…");
        var tpcb = await PgbenchTpcbAsync(pgbenchSeconds);
        var update = await PgbenchConditionalUpdateAsync(pgbenchSeconds);
        var markdown = Markdown(steps, tpcb, update, pgbenchSeconds, loadBefore, started, plotPath, markdownPath, warmup);
        Console.WriteLine(markdown);
        if (markdownPath is not null)
        {
            await File.AppendAllTextAsync(markdownPath, markdown);
        }

        if (plotPath is not null)
        {
            // The plot is throughput against offered load: a step that moved the cutoff is a different scenario.
            Plot(steps.Select(s => s.Report).Where(r => r.Plan.MoveCutoffAt is null || basePlan.MoveCutoffAt is not null).ToList(), plotPath);
        }

        return steps.All(s => s.Report.Clean) ? 0 : 1;
    }

    private static string Markdown(
        List<(LoadReport Report, long Commits)> steps, double tpcb, double update, int pgbenchSeconds, double loadBefore, DateTimeOffset started,
        string? plotPath, string? markdownPath, (double Rate, double Seconds) warmup)
    {
        var first = steps[0].Report.Plan;
        var warmedUp = warmup.Rate > 0 && warmup.Seconds > 0
            ? (FormattableString)$"warmed up by {warmup.Rate:0.#} reservations/s for {warmup.Seconds:0} s (not reported: a fresh process spends its first half-minute on JIT), "
            : (FormattableString)$"not warmed up (each figure includes the fresh processes' JIT), ";
        var text = new StringBuilder();
        text.AppendLine(Invariant, $"## End to end: {(first.HappyPath ? "the happy path" : "the scramble")} against offered load, {started:yyyy-MM-dd HH:mm} UTC ({Environment.ProcessorCount} cores)");
        text.AppendLine();
        text.AppendLine(F($"`bench/Brokering.Load` (`brokering-load sweep`): one fresh system (the three services as processes, fresh databases and virtual host), ",
            warmedUp,
            first.HappyPath
                ? (FormattableString)$"then at each offered rate {first.Duration.TotalSeconds:0} s of the happy path alone (`--happy-path`): {first.Buyers} buyers no list names, every reservation one line, all-or-none, confirmed automatically, {first.Distributors} distributors whose feeds change every {first.FeedInterval.TotalSeconds:0.#} s, {first.Skus} SKU(s), stock {first.Supply:P0} of the expected demand; then every reservation followed to its end and the invariants checked. "
                : (FormattableString)$"then at each offered rate a {first.Duration.TotalSeconds:0} s scramble: {first.Buyers} buyers (one buying for a listed party), {first.Distributors} distributors whose feeds change every {first.FeedInterval.TotalSeconds:0.#} s, {first.Skus} SKU(s), stock {first.Supply:P0} of the expected demand; reservations to CN racing a scenario cutoff, mixed fill policies and confirmations; then every reservation followed to its end and the invariants checked. ",
            $"Load generator, services, PostgreSQL and RabbitMQ share the machine. Load average (1 min) before the sweep: {loadBefore:0.00} — ",
            $"other sessions' builds and tests were running on the same 2 cores, so compare figures taken at similar load."));
        text.AppendLine();
        text.AppendLine("Latencies: *accepted* is the client's POST → 202; *held* and *terminal* run from the client's POST to the saga's own transition "
            + "instants (the `at` of each change in the buyers' change feeds), so they do not depend on how often the generator reads the feeds. Throughput *ended/s* counts reservations carried to a terminal "
            + "state, first submission to last end, so it includes the last reservations' latency: on a short step it reads below the offered rate "
            + "even while the system keeps up, by as much as the latency is long.");
        text.AppendLine();
        if (plotPath is not null)
        {
            var link = markdownPath is null ? plotPath : Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(markdownPath))!, Path.GetFullPath(plotPath));
            text.AppendLine(Invariant, $"![ended reservations/s and p99 submit → terminal against offered load]({link.Replace('\\', '/')})");
            text.AppendLine();
        }

        text.AppendLine("| offered /s | accepted /s | ended /s | accepted p50 / p99 | held p50 / p99 | terminal p50 / p90 / p99 | outcomes | invariants | DB transactions / reservation | load avg (before → peak) |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (report, commits) in steps)
        {
            text.AppendLine(F(
                $"| {Offered(report.Plan)} | {report.AcceptedPerSecond:0.0} | {report.EndedPerSecond:0.0} | {Ms(report.SubmitToAccepted.P50)} / {Ms(report.SubmitToAccepted.P99)} ",
                $"| {Ms(report.SubmitToHeld.P50)} / {Ms(report.SubmitToHeld.P99)} | {Ms(report.SubmitToTerminal.P50)} / {Ms(report.SubmitToTerminal.P90)} / {Ms(report.SubmitToTerminal.P99)} ",
                $"| {string.Join(", ", report.Outcomes.Select(o => $"{o.Key} {o.Value}"))}{(report.Throttled + report.Failed > 0 ? $"; 429 {report.Throttled}, failed {report.Failed}" : string.Empty)} ",
                $"| {(report.Invariants is null ? "not checked" : report.Invariants.Passed ? "all hold" : $"{report.Invariants.Violations.Count()} violation(s)")}{(report.StillOpen > 0 ? $", {report.StillOpen} still open" : string.Empty)} ",
                $"| {(report.Accepted > 0 ? (commits / (double)report.Accepted).ToString("0", Invariant) : "n/a")} | {report.LoadAverageBefore:0.0} → {report.LoadAveragePeak:0.0} |"));
        }

        text.AppendLine();
        text.AppendLine("Where the time went (CPU seconds over each step, first submission to last end; share = CPU s ÷ step seconds, where 2.00 is both cores; RSS sampled every second):");
        text.AppendLine();
        var names = steps.SelectMany(s => s.Report.Resources.Select(r => r.Name)).Distinct().ToList();
        text.AppendLine("| offered /s | " + string.Join(" | ", names) + " |");
        text.AppendLine("|---|" + string.Concat(names.Select(_ => "---|")));
        foreach (var (report, _) in steps)
        {
            var seconds = Math.Max(1, report.EndToEndWindow.TotalSeconds);
            text.AppendLine(F($"| {Offered(report.Plan)} | ") + string.Join(" | ", names.Select(name =>
                report.Resources.FirstOrDefault(r => r.Name == name) is { } use
                    ? string.Create(Invariant, $"{use.CpuSeconds:0.0} s ({use.CpuSeconds / seconds:0.00}){(use.PeakRssBytes > 0 ? $", RSS peak {use.PeakRssBytes / 1048576.0:0} MiB" : string.Empty)}")
                    : "-")) + " |");
        }

        if (steps.Any(s => s.Report.Work is not null && s.Report.Accepted > 0))
        {
            text.AppendLine();
            text.AppendLine("Work per accepted reservation, over each step (transactions: `pg_stat_database`'s commits, read-only ones included; statements: "
                + "`pg_stat_statements`' calls, statements run inside functions and triggers included; broker messages: published into the run's virtual host; "
                + "gRPC calls: answered by the three services, from their own request counters; CPU: milliseconds of each process per reservation):");
            text.AppendLine();
            var processes = names.Where(name => !name.StartsWith("machine", StringComparison.Ordinal)).ToList();
            text.AppendLine("| offered /s | transactions: ordering / inventory / compliance / all | statements: ordering / inventory / compliance | broker messages | gRPC calls | CPU ms: "
                + string.Join(" / ", processes) + " / all processes |");
            text.AppendLine("|---|---|---|---|---|---|");
            foreach (var (report, _) in steps.Where(s => s.Report.Work is not null && s.Report.Accepted > 0))
            {
                var work = report.Work!;
                double Per(double total) => total / report.Accepted;
                string Of(IReadOnlyDictionary<string, long>? counts, string key) =>
                    counts is null ? "-" : Per(counts.GetValueOrDefault(key)).ToString("0.0", Invariant);
                var cpu = processes.Select(name => report.Resources.FirstOrDefault(r => r.Name == name) is { } use ? Per(use.CpuSeconds * 1000).ToString("0.0", Invariant) : "-");
                var all = report.Resources.FirstOrDefault(r => r.Name.StartsWith("machine", StringComparison.Ordinal)) is { } machineUse
                    ? Per(machineUse.CpuSeconds * 1000).ToString("0.0", Invariant) : "-";
                text.AppendLine(F($"| {Offered(report.Plan)} | {Of(work.Transactions, "ordering")} / {Of(work.Transactions, "inventory")} / {Of(work.Transactions, "compliance")} / {Per(work.TotalTransactions):0.0} ",
                    $"| {Of(work.Statements, "ordering")} / {Of(work.Statements, "inventory")} / {Of(work.Statements, "compliance")} ",
                    $"| {(work.TotalMessages is { } messages ? Per(messages).ToString("0.00", Invariant) : "-")} | {(work.TotalGrpcCalls is { } calls ? Per(calls).ToString("0.00", Invariant) : "-")} ",
                    $"| {string.Join(" / ", cpu)} / {all} |"));
            }
        }

        // Throughput against offered load is read from the steps of one scenario: not the extra one that pulled the cutoff in.
        var measured = steps.Where(s => s.Report.Plan.MoveCutoffAt is null || first.MoveCutoffAt is not null).Select(s => s.Report).ToList();
        var best = measured.MaxBy(r => r.EndedPerSecond)!;
        var perReservationCommits = steps.Where(s => s.Report.Accepted > 0).Select(s => s.Commits / (double)s.Report.Accepted).DefaultIfEmpty(double.NaN).Average();
        text.AppendLine();
        text.AppendLine(Invariant, $"Machine limits, same PostgreSQL, same run ({pgbenchSeconds} s each, 8 clients):");
        text.AppendLine();
        text.AppendLine("| yardstick | figure | the best end-to-end rate as a share |");
        text.AppendLine("|---|---|---|");
        text.AppendLine(Invariant, $"| pgbench TPC-B, scale 10 | {tpcb:N0} tps | {best.EndedPerSecond / tpcb:P1} ({best.EndedPerSecond:0.0} reservations/s at {best.Plan.Rate:0.##} offered) |");
        text.AppendLine(Invariant, $"| bare conditional UPDATE of one hot stock row (a hold) | {update:N0} tps | {best.EndedPerSecond / update:P1} |");
        text.AppendLine(Invariant, $"| the same, ÷ database transactions per reservation ({perReservationCommits:0}) | {update / perReservationCommits:N0} reservations/s | {best.EndedPerSecond / (update / perReservationCommits):P0} |");
        text.AppendLine();
        text.AppendLine("Reading:");
        text.AppendLine(F($"- A reservation is not one statement: the three databases committed about {perReservationCommits:0} transactions per accepted reservation ",
            $"(pg_stat_database's xact_commit over the step: submission with idempotency record and outbox, each saga transition with inbox and outbox, ",
            $"screening decision, holds, commit or release, the stock feed's updates, and read-only ones too: the generator's reads, outbox relay and ",
            $"scheduler polls, health checks), plus RabbitMQ publishes and gRPC calls between three processes. The pgbench yardsticks are one transaction each."));
        var saturated = measured.FirstOrDefault(r => r.EndedPerSecond < 0.5 * r.Plan.Rate || r.SubmitToTerminal.P99 > 3 * steps[0].Report.SubmitToTerminal.P99);
        text.AppendLine(saturated is null
            ? "- Every offered rate was carried: ended/s tracks offered load and p99 stays within a few times the lowest rate's."
            : F($"- From {saturated.Plan.Rate:0.##} offered/s the system no longer keeps up (ended {saturated.EndedPerSecond:0.0}/s, p99 to terminal {Ms(saturated.SubmitToTerminal.P99)}): ",
                $"sagas queue behind one another and latency grows with the backlog."));
        var lowest = steps[0].Report;
        text.AppendLine(F($"- Even at {lowest.Plan.Rate:0.##} offered/s a reservation took {Ms(lowest.SubmitToTerminal.P50)} (p50) to end, with the 1-minute load average at ",
            $"{lowest.LoadAveragePeak:0} on {Environment.ProcessorCount} cores: a runnable thread waits for a core most of the time, and every hop of a reservation ",
            $"(the submission, the saga's event with the gRPC calls it makes at once, the events inventory publishes) pays that wait."));
        var top = best.Resources.Where(r => !r.Name.StartsWith("machine", StringComparison.Ordinal)).OrderByDescending(r => r.CpuSeconds).ToList();
        var machine = best.Resources.FirstOrDefault(r => r.Name.StartsWith("machine", StringComparison.Ordinal));
        var window = Math.Max(1, best.EndToEndWindow.TotalSeconds);
        if (machine is not null)
        {
            var ours = top.Sum(r => r.CpuSeconds);
            text.AppendLine(F($"- At the best rate the machine was {machine.CpuSeconds / window / Environment.ProcessorCount:P0} busy; this run's processes ",
            $"({string.Join(", ", top.Take(4).Select(r => $"{r.Name} {r.CpuSeconds / window:0.00} cores"))}) account for {ours / Math.Max(0.001, machine.CpuSeconds):P0} of it, ",
            $"the rest is other sessions' work. The run is CPU-bound, not held up by lock waits or the commit rate: every process shares the two cores, ",
            $"and {top[0].Name} is the largest consumer ({top[0].CpuSeconds / Math.Max(0.001, ours):P0} of this run's CPU), so what it is asked to do per reservation ",
            $"(statements and transactions for the database; messages, calls and queries for a service) is what moves the ceiling."));
        }

        text.AppendLine();
        return text.ToString();
    }

    /// <summary>Formats with the invariant culture (and, unlike the interpolation handlers, lets parts be concatenated).</summary>
    private static string F(params FormattableString[] parts) => string.Concat(parts.Select(part => part.ToString(Invariant)));

    private static string Ms(double value) => double.IsNaN(value) ? "n/a" : value.ToString("N0", Invariant) + " ms";

    /// <summary>Committed transactions so far in the three databases (pg_stat_database).</summary>
    private static async Task<long> CommitsAsync(Brokering.Invariants.InvariantDatabases databases)
    {
        var names = new[] { databases.Ordering, databases.Inventory, databases.Compliance }.Select(cs => new NpgsqlConnectionStringBuilder(cs).Database!).ToArray();
        await using var connection = new NpgsqlConnection(databases.Ordering);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COALESCE(SUM(xact_commit), 0)::bigint FROM pg_stat_database WHERE datname = ANY(@names)", connection);
        command.Parameters.AddWithValue("names", names);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string Offered(LoadPlan plan) => plan.MoveCutoffAt is { } moved
        ? string.Create(Invariant, $"{plan.Rate:0.##}, cutoff pulled in at {moved.TotalSeconds:0} s")
        : string.Create(Invariant, $"{plan.Rate:0.##}");

    private static void Plot(List<LoadReport> reports, string path)
    {
        var offered = reports.Select(r => r.Plan.Rate).ToArray();
        var plot = new ScottPlot.Plot();
        var ideal = plot.Add.Scatter(offered, offered);
        ideal.LegendText = "offered (ideal)";
        ideal.LinePattern = ScottPlot.LinePattern.Dashed;
        ideal.Color = ScottPlot.Colors.Gray;
        var ended = plot.Add.Scatter(offered, reports.Select(r => r.EndedPerSecond).ToArray());
        ended.LegendText = "ended reservations/s";
        ended.LineWidth = 2;
        var p99 = plot.Add.Scatter(offered, reports.Select(r => double.IsNaN(r.SubmitToTerminal.P99) ? 0 : r.SubmitToTerminal.P99 / 1000).ToArray());
        p99.LegendText = "p99 submit → terminal (s, right axis)";
        p99.Axes.YAxis = plot.Axes.Right;
        p99.LineWidth = 2;
        plot.Axes.Right.Label.Text = "p99 submit → terminal (s)";
        plot.XLabel("offered reservations/s");
        plot.YLabel("reservations/s");
        plot.Title($"Brokering end to end, {DateTimeOffset.UtcNow:yyyy-MM-dd} ({Environment.ProcessorCount} shared cores)");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, 900, 520);
    }

    private static async Task<double> PgbenchTpcbAsync(int seconds)
    {
        var database = await TestInfrastructure.CreateDatabaseAsync("load_pgbench");
        try
        {
            await PgbenchAsync(database, "-i", "-q", "-s", "10");
            return Tps(await PgbenchAsync(database, "-c", "8", "-j", "2", "-T", seconds.ToString(Invariant)));
        }
        finally
        {
            await TestInfrastructure.DropDatabaseAsync(database);
        }
    }

    /// <summary>What a hold is at its core: one conditional UPDATE of a hot stock row, one durable commit.</summary>
    private static async Task<double> PgbenchConditionalUpdateAsync(int seconds)
    {
        var database = await TestInfrastructure.CreateDatabaseAsync("load_holds");
        var script = Path.GetTempFileName();
        try
        {
            await using (var connection = new NpgsqlConnection(database))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("""
                    CREATE TABLE stock_levels (distributor_id text, sku text, warehouse text, on_hand bigint, held bigint, committed bigint, last_granted bigint,
                        PRIMARY KEY (distributor_id, sku, warehouse));
                    INSERT INTO stock_levels VALUES ('arrow', 'NVIDIA-H800-SXM5-80GB', 'HKG-1', 1000000000000, 0, 0, 0);
                    """, connection);
                await command.ExecuteNonQueryAsync();
            }

            await File.WriteAllTextAsync(script, """
                UPDATE stock_levels SET held = held + LEAST(1, on_hand - held - committed), last_granted = LEAST(1, on_hand - held - committed)
                WHERE distributor_id = 'arrow' AND sku = 'NVIDIA-H800-SXM5-80GB' AND warehouse = 'HKG-1' AND on_hand - held - committed > 0;

                """);
            return Tps(await PgbenchAsync(database, "-n", "-f", script, "-c", "8", "-j", "2", "-T", seconds.ToString(Invariant)));
        }
        finally
        {
            File.Delete(script);
            await TestInfrastructure.DropDatabaseAsync(database);
        }
    }

    private static double Tps(string output) =>
        TpsPattern().Match(output) is { Success: true } match ? double.Parse(match.Groups[1].Value, Invariant) : double.NaN;

    private static async Task<string> PgbenchAsync(string database, params string[] arguments)
    {
        var target = new NpgsqlConnectionStringBuilder(database);
        var executable = File.Exists("/usr/lib/postgresql/15/bin/pgbench") ? "/usr/lib/postgresql/15/bin/pgbench" : "pgbench";
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-h", target.Host!, "-p", target.Port.ToString(Invariant), "-U", target.Username! }.Concat(arguments).Append(target.Database!))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PGPASSWORD"] = target.Password;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("pgbench could not be started.");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? await output : throw new InvalidOperationException($"pgbench failed: {await errors}");
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex TpsPattern();
}
