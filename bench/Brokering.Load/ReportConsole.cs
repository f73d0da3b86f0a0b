using System.Globalization;
using Brokering.Invariants;
using Spectre.Console;

namespace Brokering.Load;

/// <summary>How a run shows itself on the terminal: a live table while it runs, tables of figures at the end.</summary>
internal static class ReportConsole
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Runs with a live view on an interactive terminal, or a progress line every five seconds otherwise.</summary>
    public static async Task<LoadReport> RunWithProgressAsync(LoadRunFactory factory)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var last = TimeSpan.Zero;
            var lines = new Progress<LoadProgress>(p =>
            {
                if (p.Elapsed - last >= TimeSpan.FromSeconds(5))
                {
                    last = p.Elapsed;
                    Console.WriteLine(Line(p));
                }
            });
            return await factory.Create(lines).RunAsync();
        }

        LoadReport? report = null;
        await AnsiConsole.Live(new Text("starting…")).AutoClear(false).StartAsync(async context =>
        {
            var updates = new Progress<LoadProgress>(p =>
            {
                context.UpdateTarget(Table(p));
                context.Refresh();
            });
            report = await factory.Create(updates).RunAsync();
        });
        return report!;
    }

    public static string Line(LoadProgress p) => string.Create(Invariant,
        $"[{p.Elapsed.TotalSeconds,5:0}s] {p.Phase}: submitted {p.Submitted}, accepted {p.Accepted}, in flight {p.InFlight}, open {p.Open}, ended {p.Ended}, 429 {p.Throttled}, failed {p.Failed}, feed updates {p.FeedUpdates}, load {p.LoadAverage:0.0} | ")
        + string.Join(", ", p.States.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key} {s.Value}"));

    private static Rows Table(LoadProgress p)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(string.Create(Invariant, $"{p.Phase} — {p.Elapsed.TotalSeconds:0} s, load average {p.LoadAverage:0.0}")));
        table.AddColumns("submitted", "accepted", "in flight", "open", "ended", "429", "failed", "feed updates");
        table.AddRow(Cell(p.Submitted), Cell(p.Accepted), Cell(p.InFlight), Cell(p.Open), Cell(p.Ended), Cell(p.Throttled), Cell(p.Failed), Cell(p.FeedUpdates));
        var states = new BarChart().Width(60).Label("reservations by state");
        foreach (var (state, count) in p.States.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            states.AddItem(state, count, InvariantChecker.TerminalStates.Contains(state) ? Color.Green : Color.Yellow);
        }

        return new Rows(table, states);
    }

    private static string Cell(int value) => value.ToString(Invariant);

    public static void Write(LoadReport report)
    {
        var figures = new Table().Border(TableBorder.Rounded).Title("Load run").AddColumns("figure", "value");
        void Row(string name, string value) => figures.AddRow(Markup.Escape(name), Markup.Escape(value));
        Row("offered", string.Create(Invariant, $"{report.Plan.Rate:0.##} reservations/s for {report.Plan.Duration.TotalSeconds:0} s"));
        Row("submitted / accepted", string.Create(Invariant, $"{report.Submitted} / {report.Accepted} ({report.AcceptedPerSecond:0.0}/s); 429 {report.Throttled}; failed {report.Failed}"));
        Row("ended", string.Create(Invariant, $"{report.Ended} ({report.EndedPerSecond:0.0}/s, first submission to last end); still open {report.StillOpen}"));
        Row("submit → accepted", report.SubmitToAccepted.ToString());
        Row("submit → held", report.SubmitToHeld.ToString());
        Row("submit → terminal", report.SubmitToTerminal.ToString());
        Row("buyer actions", string.Create(Invariant, $"{report.Confirmations} confirmations, {report.Cancellations} cancellations"));
        Row("stock feed", string.Create(Invariant, $"{report.FeedUpdates} updates, {report.FeedItems} items"));
        if (report.MovedCutoff is { } cutoff)
        {
            Row("cutoff moved to", cutoff.ToString("O", Invariant));
        }

        Row("load average", string.Create(Invariant, $"before {report.LoadAverageBefore:0.00}, peak {report.LoadAveragePeak:0.00}, after {report.LoadAverageAfter:0.00}"));
        if (report.FirstFailure is not null)
        {
            Row("first failure", report.FirstFailure.Length > 300 ? report.FirstFailure[..300] + "…" : report.FirstFailure);
        }

        AnsiConsole.Write(figures);

        var outcomes = new Table().Border(TableBorder.Rounded).Title("Outcomes").AddColumns("state", "reservations");
        foreach (var (state, count) in report.Outcomes)
        {
            outcomes.AddRow(state, count.ToString(Invariant));
        }

        AnsiConsole.Write(outcomes);

        var resources = new Table().Border(TableBorder.Rounded).Title("Where the time went").AddColumns("process", "CPU s", "share of run", "peak RSS MiB", "mean RSS MiB");
        var seconds = Math.Max(1, report.EndToEndWindow.TotalSeconds);
        foreach (var use in report.Resources)
        {
            resources.AddRow(Markup.Escape(use.Name), use.CpuSeconds.ToString("0.0", Invariant), (use.CpuSeconds / seconds).ToString("P0", Invariant),
                use.PeakRssBytes == 0 ? "-" : (use.PeakRssBytes / 1048576.0).ToString("0", Invariant),
                use.MeanRssBytes == 0 ? "-" : (use.MeanRssBytes / 1048576.0).ToString("0", Invariant));
        }

        AnsiConsole.Write(resources);
        if (report.Work is { } work && report.Accepted > 0)
        {
            Write(work, report);
        }

        if (report.Invariants is { } invariants)
        {
            Write(invariants);
        }
        else
        {
            AnsiConsole.MarkupLine("[yellow]Invariants not checked: give the three databases (--ordering-db, --inventory-db, --compliance-db).[/]");
        }
    }

    /// <summary>The run's work divided by its accepted reservations: what one reservation costs the machine, all in.</summary>
    private static void Write(WorkCost work, LoadReport report)
    {
        double Per(double total) => total / report.Accepted;
        var table = new Table().Border(TableBorder.Rounded).Title($"Work per accepted reservation ({report.Accepted} accepted)").AddColumns("what", "per reservation", "run total");
        foreach (var (database, count) in work.Transactions.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            table.AddRow(Markup.Escape($"transactions, {database}"), Per(count).ToString("0.0", Invariant), count.ToString(Invariant));
        }

        table.AddRow("transactions, all databases", Per(work.TotalTransactions).ToString("0.0", Invariant), work.TotalTransactions.ToString(Invariant));
        foreach (var (database, count) in (work.Statements ?? new Dictionary<string, long>()).OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            table.AddRow(Markup.Escape($"statements, {database}"), Per(count).ToString("0.0", Invariant), count.ToString(Invariant));
        }

        if (work.TotalMessages is { } messages)
        {
            table.AddRow("broker messages published", Per(messages).ToString("0.00", Invariant), messages.ToString(Invariant));
            foreach (var (exchange, count) in work.Messages!.OrderByDescending(pair => pair.Value).Take(12))
            {
                table.AddRow(Markup.Escape($"  {exchange[(exchange.LastIndexOf(':') + 1)..]}"), Per(count).ToString("0.00", Invariant), count.ToString(Invariant));
            }
        }

        if (work.TotalGrpcCalls is { } calls)
        {
            table.AddRow("gRPC calls answered", Per(calls).ToString("0.00", Invariant), calls.ToString(Invariant));
            foreach (var (method, count) in work.GrpcCalls!.OrderByDescending(pair => pair.Value).Take(12))
            {
                table.AddRow(Markup.Escape($"  {method}"), Per(count).ToString("0.00", Invariant), count.ToString(Invariant));
            }
        }

        foreach (var use in report.Resources)
        {
            table.AddRow(Markup.Escape($"CPU ms, {use.Name}"), Per(use.CpuSeconds * 1000).ToString("0.0", Invariant), use.CpuSeconds.ToString("0.0 s", Invariant));
        }

        AnsiConsole.Write(table);
    }

    public static void Write(InvariantReport report)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"Invariants at {report.CheckedAt:O}: {(report.Passed ? "all hold" : $"{report.Violations.Count()} violation(s)")}"))
            .AddColumns("check", "examined", "violations", "notes");
        foreach (var check in report.Checks)
        {
            table.AddRow(Markup.Escape(check.Name), check.Examined.ToString(Invariant),
                check.Passed ? "[green]0[/]" : $"[red]{check.Violations.Count}[/]", check.Notes.Count.ToString(Invariant));
        }

        AnsiConsole.Write(table);
        foreach (var violation in report.Violations.Take(50))
        {
            AnsiConsole.MarkupLine($"[red]VIOLATION[/] {Markup.Escape(violation.ToString())}");
        }

        foreach (var note in report.Checks.SelectMany(check => check.Notes.Select(note => $"{check.Name}: {note}")).Take(20))
        {
            AnsiConsole.MarkupLine($"[grey]note[/] {Markup.Escape(note)}");
        }
    }
}
