using System.Globalization;
using Brokering.Invariants;
using Brokering.ServiceDefaults.Security;
using Spectre.Console;

namespace Brokering.Load;

/// <summary>
/// <c>brokering-load</c>: <c>run</c> plays the scramble at an offered rate (the default verb), <c>check</c> runs the
/// invariant checker on three databases, <c>sweep</c> measures a series of rates on a fresh system and writes the
/// end-to-end section of docs/benchmarks.md. <c>--help</c> lists the options.
/// </summary>
internal static class Program
{
    private const string Usage = """
        brokering-load run   [--self-host | --ordering URL --inventory URL --compliance URL [--dev-key-seed-file FILE]]
                             [--ordering-db CS --inventory-db CS --compliance-db CS]
                             [--buyers N] [--distributors M] [--skus K] [--rate R] [--duration S] [--feed-interval S]
                             [--move-cutoff-at S] [--cutoff-lead S] [--poll-interval S] [--drain-timeout S] [--supply F] [--seed N]
                             [--memory-limit MIB] [--happy-path]
        brokering-load check --ordering-db CS --inventory-db CS --compliance-db CS [--while-running]
        brokering-load sweep --rates R1,R2,... [--duration S] [--markdown FILE] [--plot FILE] [--no-cutoff-step] [--buyers N] ...
                             [--warmup-rate R] [--warmup-seconds S]
                             (unless --move-cutoff-at or --no-cutoff-step is given, a last step at the highest rate
                             pulls the cutoff in halfway through; an unreported warm-up of 20 reservations/s for 20 s
                             comes first, so the steps measure warm processes: --warmup-rate 0 measures them cold)

        --self-host   start a fresh whole system (three services, fresh databases and virtual host) on the PostgreSQL
                      and RabbitMQ named by BROKERING_POSTGRES / BROKERING_RABBITMQ; stopped and dropped afterwards.
                      With --memory-limit MIB, each service runs in a memory cgroup of that size, as a pod under
                      resources.limits.memory (root only), and the run reports each one's peak and OOM kills.
        URLs          a running system's REST addresses (deploy/local/up.sh: 5100, 5200, 5300), in Development; tokens are
                      signed by its development issuer, whose key derives from --dev-key-seed-file (default
                      ~/.brokering/dev-key-seed, the seed the local services generate at first run).
        --happy-path  every reservation one line, all-or-none, confirmed automatically, for buyers no list names,
                      against stock three times the demand (unless --supply): the cost of a reservation when nothing
                      goes wrong (run and sweep).
        Exit code: 0 when every reservation ended and no invariant is breached, 1 otherwise, 2 on bad usage.
        """;

    public static async Task<int> Main(string[] args)
    {
        try
        {
            var verb = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "run";
            var options = Options.Parse(args.SkipWhile(a => a == verb).ToArray());
            if (options.Flag("help"))
            {
                Console.WriteLine(Usage);
                return 0;
            }

            return verb switch
            {
                "run" => await RunAsync(options),
                "check" => await CheckAsync(options),
                "sweep" => await LoadSweep.RunAsync(options),
                _ => throw new ArgumentException($"Unknown verb '{verb}'."),
            };
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"{e.Message}\n\n{Usage}");
            return 2;
        }
    }

    private static async Task<int> RunAsync(Options options)
    {
        var plan = options.Plan();
        plan.Validate();
        SelfHostedSystem? system = null;
        try
        {
            LoadTarget target;
            if (options.Flag("self-host"))
            {
                AnsiConsole.MarkupLine("[grey]Starting a fresh system (compliance, inventory, ordering)…[/]");
                system = await SelfHostedSystem.StartAsync(options.Number("memory-limit"));
                target = system.Target;
            }
            else
            {
                target = options.RunningSystem();
            }

            AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"Scramble {plan.RunTag}: {plan.Rate} reservations/s for {plan.Duration.TotalSeconds:0} s, {plan.Buyers} buyers, {plan.Distributors} distributors, {plan.Skus} SKU(s) against {target.Ordering}")));
            var report = await ReportConsole.RunWithProgressAsync(new LoadRunFactory(plan, target));
            ReportConsole.Write(report);
            foreach (var line in system?.MemoryReport ?? [])
            {
                AnsiConsole.WriteLine(line);
            }

            if (!report.Clean && system is not null)
            {
                AnsiConsole.WriteLine(system.Logs);
            }

            return report.Clean ? 0 : 1;
        }
        finally
        {
            if (system is not null)
            {
                await system.DisposeAsync();
            }
        }
    }

    private static async Task<int> CheckAsync(Options options)
    {
        var databases = options.Databases() ?? throw new ArgumentException("check needs --ordering-db, --inventory-db and --compliance-db.");
        var report = await InvariantChecker.CheckAsync(databases, new InvariantCheckOptions { RequireTerminal = !options.Flag("while-running") });
        ReportConsole.Write(report);
        return report.Passed ? 0 : 1;
    }
}

/// <summary>Makes the run once the console knows where to report progress.</summary>
internal sealed record LoadRunFactory(LoadPlan Plan, LoadTarget Target)
{
    public LoadRun Create(IProgress<LoadProgress> progress) => new(Plan, Target, progress);
}

/// <summary>Command-line options: <c>--name value</c> pairs and bare <c>--flag</c>s.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string?> values = new(StringComparer.Ordinal);

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }

            var hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            options.values[args[i][2..]] = hasValue ? args[++i] : null;
        }

        return options;
    }

    public bool Flag(string name) => values.ContainsKey(name);

    public string? Text(string name) => values.TryGetValue(name, out var value) ? value ?? throw new ArgumentException($"--{name} needs a value.") : null;

    public double? Number(string name) => Text(name) is { } text
        ? double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number : throw new ArgumentException($"--{name}: '{text}' is not a number.")
        : null;

    public TimeSpan? Seconds(string name) => Number(name) is { } seconds ? TimeSpan.FromSeconds(seconds) : null;

    /// <summary>The plan the options describe (defaults from <see cref="LoadPlan"/>).</summary>
    public LoadPlan Plan()
    {
        var defaults = new LoadPlan();
        return defaults with
        {
            Buyers = (int?)Number("buyers") ?? defaults.Buyers,
            Distributors = (int?)Number("distributors") ?? defaults.Distributors,
            Skus = (int?)Number("skus") ?? defaults.Skus,
            Rate = Number("rate") ?? defaults.Rate,
            Duration = Seconds("duration") ?? defaults.Duration,
            FeedInterval = Seconds("feed-interval") ?? defaults.FeedInterval,
            MoveCutoffAt = Seconds("move-cutoff-at"),
            CutoffLead = Seconds("cutoff-lead") ?? defaults.CutoffLead,
            PollInterval = Seconds("poll-interval") ?? defaults.PollInterval,
            DrainTimeout = Seconds("drain-timeout") ?? defaults.DrainTimeout,
            Supply = Number("supply") ?? (Flag("happy-path") ? LoadPlan.HappyPathSupply : defaults.Supply),
            HappyPath = Flag("happy-path"),
            MaxUnitsPerLine = (int?)Number("max-units") ?? defaults.MaxUnitsPerLine,
            Seed = (int?)Number("seed") ?? defaults.Seed,
        };
    }

    public InvariantDatabases? Databases()
    {
        var (ordering, inventory, compliance) = (Text("ordering-db"), Text("inventory-db"), Text("compliance-db"));
        if (ordering is null && inventory is null && compliance is null)
        {
            return null;
        }

        return ordering is null || inventory is null || compliance is null
            ? throw new ArgumentException("Give all three of --ordering-db, --inventory-db and --compliance-db, or none.")
            : new InvariantDatabases(ordering, inventory, compliance);
    }

    /// <summary>A system already running at the given addresses.</summary>
    public LoadTarget RunningSystem()
    {
        Uri Address(string name) => Text(name) is { } text && Uri.TryCreate(text, UriKind.Absolute, out var uri)
            ? uri
            : throw new ArgumentException($"Give --self-host, or --{name} with the service's REST address (e.g. http://127.0.0.1:5100).");
        var (ordering, inventory, compliance) = (Address("ordering"), Address("inventory"), Address("compliance"));
        var seedFile = Text("dev-key-seed-file") ?? SigningKeys.DevelopmentSeedFile;
        if (!File.Exists(seedFile))
        {
            throw new ArgumentException($"No development key seed at {seedFile}: give --dev-key-seed-file (the local services' Authentication:DevelopmentKeySeed).");
        }

        var processes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, rest) in new[] { ("ordering", ordering), ("inventory", inventory), ("compliance", compliance) })
        {
            if (ProcessAccounting.FindServiceProcess(rest) is { } pid)
            {
                processes[name] = pid;
            }
        }

        return new LoadTarget(ordering, inventory, compliance, LoadTarget.DevelopmentIssuer(File.ReadAllText(seedFile).Trim()), Databases(), processes);
    }
}
