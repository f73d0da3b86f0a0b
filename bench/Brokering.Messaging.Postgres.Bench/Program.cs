using System.Diagnostics;
using System.Globalization;
using System.Text;
using Brokering.Messaging.Postgres;
using Brokering.Messaging.Postgres.Bench;
using Brokering.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

// Measures, on the servers the tests use (BROKERING_POSTGRES / BROKERING_RABBITMQ, or the local defaults):
//   1. saga transitions/s through the PostgreSQL saga repository + outbox/inbox (many instances, and one hot instance),
//   2. bus-outbox messages relayed to RabbitMQ per second (publisher-confirmed),
//   3. pgbench TPC-B on the same server, in the same run, as the yardstick.
// Appends a section to docs/benchmarks.md (not with --no-docs). Not part of the test suite. --outbox-only measures the bus
// outbox alone (no saga runs, no pgbench), for before/after pairs of the relay on a shared machine; --warm-relay N relays N
// messages unmeasured first.

var spreadEvents = IntArg("--spread-events", 6000);
var hotEvents = IntArg("--hot-events", 1500);
var outboxMessages = IntArg("--outbox-messages", 5000);
var pgbenchSeconds = IntArg("--pgbench-seconds", 15);
var warmRelay = IntArg("--warm-relay", 0);
var outboxOnly = Flag("--outbox-only");
var writeDocs = !Flag("--no-docs");

var report = new List<(string Run, string Figure, string Notes)>();
var database = await TestInfrastructure.CreateDatabaseAsync("bench_messaging");
var vhost = await TestInfrastructure.CreateVirtualHostAsync("bench-messaging");
try
{
    await using (var db = CreateDbContext(database))
        await db.Database.EnsureCreatedAsync();

    // 1. Saga transitions.
    if (!outboxOnly)
    {
        await using (var host = await StartHost(database, vhost, relay: true))
        {
            var bus = host.Services.GetRequiredService<IBus>();
            var counters = Enumerable.Range(0, 200).Select(_ => NewId.NextGuid()).ToArray();
            await PublishAll(bus, counters.Select(id => new BenchIncrement(id)));
            await WaitForCount(database, counters.Length);

            // Warm-up (JIT tiering, connection pools, EF query caches): not measured.
            await MeasureTransitions(bus, database, Enumerable.Range(0, 1000).Select(i => new BenchIncrement(counters[i % counters.Length])), counters.Length);
            var warmed = await TotalCount(database);

            var rate = await MeasureTransitions(bus, database, Enumerable.Range(0, spreadEvents).Select(i => new BenchIncrement(counters[i % counters.Length])),
                warmed);
            report.Add(("saga transitions, 200 instances", $"{rate:N0} /s", $"{spreadEvents} events; each = 1 transaction (inbox + row lock + update)"));

            var hot = NewId.NextGuid();
            var before = await TotalCount(database);
            rate = await MeasureTransitions(bus, database, Enumerable.Range(0, hotEvents).Select(_ => new BenchIncrement(hot)), before);
            report.Add(("saga transitions, 1 hot instance", $"{rate:N0} /s", $"{hotEvents} events serialised by the row lock (FOR UPDATE)"));
        }
    }

    // 2. Bus outbox: write with the relay off, then measure the relay alone. With --warm-relay N, N messages are written and
    // relayed first, unmeasured, so the measured relay runs on code the JIT has compiled, as in a service that has been up.
    if (warmRelay > 0)
    {
        await WriteOutbox(database, vhost, warmRelay);
        await RelayOutbox(database, vhost, warmRelay);
    }

    var writeRate = await WriteOutbox(database, vhost, outboxMessages);
    report.Add(("bus outbox writes (API-like)", $"{writeRate:N0} /s", "1 message + SaveChanges per scope, 16 concurrent"));

    var (relayRate, cpuPerMessage) = await RelayOutbox(database, vhost, outboxMessages);
    report.Add(("bus outbox relayed to RabbitMQ", $"{relayRate:N0} /s",
        $"publisher confirms; deleted in the relay's transaction; {cpuPerMessage:N0} µs CPU/message in-process ("
        + (warmRelay > 0 ? $"after {warmRelay:N0} relayed unmeasured)" : "the relay's first round's JIT included)")));

    // 3. pgbench on the same server.
    if (!outboxOnly)
        report.Add(("pgbench TPC-B (8 clients)", $"{await PgBench(pgbenchSeconds):N0} tps", $"scale 10, {pgbenchSeconds} s, same server and run"));
}
finally
{
    await TestInfrastructure.DeleteVirtualHostAsync(vhost);
    await TestInfrastructure.DropDatabaseAsync(database);
}

var markdown = new StringBuilder()
    .AppendLine(CultureInfo.InvariantCulture, $"## Messaging on PostgreSQL, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC ({Environment.ProcessorCount} cores)")
    .AppendLine()
    .AppendLine("`bench/Brokering.Messaging.Postgres.Bench` (load generator, service and servers on the same machine; "
        + $"load average at the end: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}).")
    .AppendLine()
    .AppendLine("| run | figure | notes |")
    .AppendLine("|---|---|---|");
foreach (var (run, figure, notes) in report)
    markdown.AppendLine(CultureInfo.InvariantCulture, $"| {run} | {figure} | {notes} |");

Console.WriteLine(markdown);
if (!writeDocs)
    return;

var docs = Path.Combine(FindRepoRoot(), "docs", "benchmarks.md");
if (!File.Exists(docs))
    await File.WriteAllTextAsync(docs, "# Benchmarks\n\nFigures measured on the project's machine; see each section for how.\n\n");
await File.AppendAllTextAsync(docs, markdown.AppendLine().ToString());
Console.WriteLine($"Appended to {docs}");
return;

static int IntArg(string name, int fallback)
{
    var args = Environment.GetCommandLineArgs();
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

static bool Flag(string name) => Environment.GetCommandLineArgs().Contains(name);

static async Task<double> WriteOutbox(string database, Uri vhost, int messages)
{
    await using var writer = await StartHost(database, vhost, relay: false);
    var stopwatch = Stopwatch.StartNew();
    var batch = NewId.NextGuid();
    await Parallel.ForEachAsync(Enumerable.Range(0, messages), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
    {
        await using var scope = writer.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BenchDbContext>();
        await scope.ServiceProvider.GetRequiredService<IPublishEndpoint>().Publish(new BenchFact(batch, i), ct);
        await db.SaveChangesAsync(ct);
    });
    return messages / stopwatch.Elapsed.TotalSeconds;
}

// Relays what the outbox holds; the relaying host is the only work this process does meanwhile (no consumer of BenchFact).
static async Task<(double Rate, double CpuMicrosecondsPerMessage)> RelayOutbox(string database, Uri vhost, int messages)
{
    await using var relay = await StartHost(database, vhost, relay: true);
    var stopwatch = Stopwatch.StartNew();
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    await WaitUntil(async () => await CountOutbox(database) == 0, TimeSpan.FromMinutes(5));
    return (messages / stopwatch.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / messages);
}

static BenchDbContext CreateDbContext(string connectionString) =>
    new(new DbContextOptionsBuilder<BenchDbContext>().UseNpgsql(connectionString).Options);

static async Task<BenchHost> StartHost(string connectionString, Uri vhost, bool relay)
{
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.ClearProviders();
    builder.Services.AddSingleton(BenchHost.Logging); // MassTransit keeps the first logger factory in a static: never dispose it
    builder.Services.AddDbContext<BenchDbContext>(o => o.UseNpgsql(connectionString));
    builder.Services.Configure<MassTransitHostOptions>(o => o.WaitUntilStarted = true);
    builder.Services.AddMassTransit(x =>
    {
        x.AddPostgresOutbox<BenchDbContext>(o =>
        {
            o.UseBusOutbox();
            if (!relay)
                o.DisableDeliveryService();
        });
        x.AddSagaStateMachine<BenchCounterStateMachine, BenchCounter>(typeof(BenchCounterDefinition)).PostgresRepository<BenchDbContext>();
        x.UsingRabbitMq((context, cfg) =>
        {
            var credentials = vhost.UserInfo.Split(':');
            cfg.Host(vhost.Host, (ushort)vhost.Port, Uri.UnescapeDataString(vhost.AbsolutePath.TrimStart('/')), h =>
            {
                h.Username(Uri.UnescapeDataString(credentials[0]));
                h.Password(Uri.UnescapeDataString(credentials[1]));
            });
            cfg.ConfigureEndpoints(context);
        });
    });

    var host = builder.Build();
    await host.StartAsync();
    return new BenchHost(host);
}

static async Task PublishAll(IBus bus, IEnumerable<BenchIncrement> messages)
{
    await Parallel.ForEachAsync(messages, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (message, ct) => await bus.Publish(message, ct));
}

static async Task<double> MeasureTransitions(IBus bus, string connectionString, IEnumerable<BenchIncrement> messages, int before)
{
    var list = messages.ToList();
    var stopwatch = Stopwatch.StartNew();
    await PublishAll(bus, list);
    await WaitForCount(connectionString, before + list.Count);
    return list.Count / stopwatch.Elapsed.TotalSeconds;
}

static async Task<int> TotalCount(string connectionString)
{
    await using var db = CreateDbContext(connectionString);
    return await db.Counters.SumAsync(x => x.Count);
}

static async Task<long> CountOutbox(string connectionString)
{
    await using var db = CreateDbContext(connectionString);
    return await db.Set<OutboxMessage>().LongCountAsync();
}

static Task WaitForCount(string connectionString, int expected) =>
    WaitUntil(async () => await TotalCount(connectionString) >= expected, TimeSpan.FromMinutes(5));

// A short pause: the time the last message takes to be seen is part of what is measured.
static Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout) =>
    Eventually.Until(condition, "the benchmark to finish", timeout, TimeSpan.FromMilliseconds(20));

static async Task<double> PgBench(int seconds)
{
    var settings = await TestInfrastructure.GetSettingsAsync();
    var connection = new NpgsqlConnectionStringBuilder(settings.PostgresConnectionString);
    var database = await TestInfrastructure.CreateDatabaseAsync("bench_pgbench");
    try
    {
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        await Run("-i", "-q", "-s", "10", name);
        var output = await Run("-c", "8", "-j", "2", "-T", seconds.ToString(CultureInfo.InvariantCulture), name);
        var line = output.Split('\n').First(l => l.StartsWith("tps = ", StringComparison.Ordinal));
        return double.Parse(line["tps = ".Length..].Split(' ')[0], CultureInfo.InvariantCulture);
    }
    finally
    {
        await TestInfrastructure.DropDatabaseAsync(database);
    }

    async Task<string> Run(params string[] arguments)
    {
        var start = new ProcessStartInfo("/usr/lib/postgresql/15/bin/pgbench")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "-h", connection.Host!, "-p", connection.Port.ToString(CultureInfo.InvariantCulture), "-U", connection.Username! }
                     .Concat(arguments))
            start.ArgumentList.Add(argument);
        start.Environment["PGPASSWORD"] = connection.Password;

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"pgbench failed: {await stderr}");
        return await stdout;
    }
}

static string FindRepoRoot()
{
    var directory = new DirectoryInfo(AppContext.BaseDirectory);
    while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Brokering.sln")))
        directory = directory.Parent;
    return directory?.FullName ?? Directory.GetCurrentDirectory();
}

sealed class BenchHost(IHost host) : IAsyncDisposable
{
    public static readonly ILoggerFactory Logging = LoggerFactory.Create(logging => logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning)
        .AddFilter("MassTransit", LogLevel.Error));

    public IServiceProvider Services => host.Services;

    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        host.Dispose();
    }
}
