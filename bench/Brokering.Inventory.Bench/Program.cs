extern alias contracts;

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Testing;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using HoldsLedgerClient = contracts::Brokering.Contracts.Grpc.Inventory.HoldsLedger.HoldsLedgerClient;
using StockFeedsClient = contracts::Brokering.Contracts.Grpc.Inventory.StockFeeds.StockFeedsClient;

namespace Brokering.Inventory.Bench;

/// <summary>
/// Benchmarks of the inventory service on this machine (not a test): PlaceHolds per second on one hot SKU
/// and spread over many levels, next to pgbench's rate for the bare conditional UPDATE on the same row, and
/// stock-feed ingest in items per second (5,000-item snapshots, then 5,000-item deltas, from one distributor's stream;
/// then snapshots from several distributors' streams at once, as in a scramble every distributor pushes its list) beside
/// the batched-upsert limit on one connection and on as many connections as streams.
/// Appends a table to docs/benchmarks.md.
/// <c>dotnet run -c Release --project bench/Brokering.Inventory.Bench -- [seconds per run, default 10] [--port-base N] [--no-docs] [--feeds-only]</c>:
/// without <c>--port-base</c> the service listens on two free ports, so the bench runs beside a live stack;
/// <c>--no-docs</c> prints the table without appending it to docs/benchmarks.md; <c>--feeds-only</c> skips the holds and
/// pgbench runs, for before/after pairs of the feed ingest alone on a shared machine.
/// </summary>
internal static class BenchProgram
{
    private const string HotSku = "NVIDIA-H100-SXM5-80GB";

    // The first argument of the child process that plays the PlaceHolds clients (see HoldsInClientProcessAsync).
    private const string HoldsClientMode = "--holds-client";

    // Distributors streaming snapshots at once in the concurrent feed run (and connections in its upsert limit).
    private const int FeedStreams = 4;

    private static readonly string[] Skus = ["NVIDIA-A100-SXM4-80GB", "NVIDIA-A800-SXM4-80GB", "NVIDIA-H100-SXM5-80GB", "NVIDIA-H100-PCIE-80GB", "NVIDIA-H800-SXM5-80GB",
        "NVIDIA-H20", "NVIDIA-L40S", "NVIDIA-L4", "NVIDIA-RTX-4090", "NVIDIA-RTX-4090D"];

    public static async Task Main(string[] args)
    {
        if (args.Length > 0 && args[0] == HoldsClientMode)
        {
            await RunHoldsClientAsync(args);
            return;
        }

        var positional = new List<string>();
        int? portBase = null;
        var writeDocs = true;
        var feedsOnly = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--port-base":
                    portBase = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--no-docs":
                    writeDocs = false;
                    break;
                case "--feeds-only":
                    feedsOnly = true;
                    break;
                default:
                    positional.Add(args[i]);
                    break;
            }
        }

        var seconds = positional.Count > 0 ? int.Parse(positional[0], CultureInfo.InvariantCulture) : 10;
        var duration = TimeSpan.FromSeconds(seconds);
        int[] ports = portBase is { } fixedBase ? [fixedBase, fixedBase + 1] : FreePort.Next(2);
        var (httpPort, grpcPort) = (ports[0], ports[1]);
        var database = await TestInfrastructure.CreateDatabaseAsync("inventory_bench");
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync("inventory-bench");
        var report = new List<(string Name, string Figure, string Notes)>();
        var loadBefore = LoadAverage();
        var skus = Skus;

        try
        {
            await using var service = new BenchHost(database, virtualHost, httpPort, grpcPort);
            service.UseKestrel();
            service.StartServer();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestTokens.Operator());
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
            var feeds = new StockFeedsClient(channel);
            (await http.PostAsJsonAsync("/v1/distributors", new { id = "bench", name = "Bench" })).EnsureSuccessStatusCode();
            await RegisterDistributorsAsync(http, FeedDistributor, "Bench feed");

            // Stock: one hot level with plenty, and 1000 levels (10 SKUs x 100 warehouses) for the spread run.
            var setup = new StockUpdate { DistributorId = "bench", Sequence = 1, Kind = UpdateKind.Snapshot };
            setup.Items.Add(new StockItem { Sku = HotSku, Warehouse = "HOT", QuantityOnHand = 1_000_000_000, UnitPrice = 30000m, Currency = "USD" });
            foreach (var sku in skus)
            {
                for (var w = 0; w < 100; w++)
                {
                    setup.Items.Add(new StockItem { Sku = sku, Warehouse = $"W{w:D3}", QuantityOnHand = 1_000_000_000, UnitPrice = 20000m, Currency = "USD" });
                }
            }

            using (var call = feeds.Publish(Bearer(TestTokens.Distributor("bench"))))
            {
                await call.RequestStream.WriteAsync(setup);
                await call.RequestStream.CompleteAsync();
                await call;
            }

            if (!feedsOnly)
            {
                // The idle figures are read by code in the service's process: run it a few times before the warm-up, so what the
                // tiered JIT compiles for it (its per-thread loop crosses the call count at once) is not compiled inside the
                // idle second it measures, where it was most of what that second spent.
                for (var i = 0; i < 5; i++)
                {
                    SpentByKind(ThreadCpu());
                    await OutboxBacklogAsync(database);
                }

                await HoldsInClientProcessAsync(grpcPort, 16, TimeSpan.FromSeconds(10), spread: false); // warm-up: tiered JIT and connection pools
                report.Add(await IdleAfterBurstAsync(database, "Service idle after a 10 s, 16-client burst, the first one (warm-up)"));
                double? hot64 = null;
                foreach (var clients in new[] { 1, 16, 64 })
                {
                    var batches = await BatchSizeAsync(http);
                    var cpu = Cpu();
                    var threads = ThreadCpu();
                    var machine = MachineBusy();
                    var (rate, p50, p99, count) = await HoldsInClientProcessAsync(grpcPort, clients, duration, spread: false);
                    var spent = $"{PerUnit(cpu, count)} µs service CPU/hold ({ThreadsPerUnit(cpu, threads, count)}), {MachinePerUnit(machine, count)} µs machine CPU/hold";
                    hot64 = clients == 64 ? rate : hot64;
                    // The idle second starts as the burst ends; the metrics scrape for the batch sizes comes after it, or the
                    // tier-up of the scrape's own code (the exporter's serialiser) is what that second measures.
                    var idle = clients == 16 ? await IdleAfterBurstAsync(database, $"Service idle after the {seconds} s, 16-client hot-SKU run (JIT warm)") : default;
                    report.Add(($"PlaceHolds, one hot SKU, {clients} client(s)", $"{rate:N0} holds/s", $"p50 {p50:N1} ms, p99 {p99:N1} ms, {spent}, {MeanBatch(batches, await BatchSizeAsync(http))} calls per transaction"));
                    if (clients == 16)
                    {
                        report.Add(idle);
                    }
                }

                var spreadCpu = Cpu();
                var spreadMachine = MachineBusy();
                var (spread, s50, s99, spreadCount) = await HoldsInClientProcessAsync(grpcPort, 64, duration, spread: true);
                report.Add(("PlaceHolds, 1000 levels, 64 clients", $"{spread:N0} holds/s", $"p50 {s50:N1} ms, p99 {s99:N1} ms, {PerUnit(spreadCpu, spreadCount)} µs service CPU/hold, {MachinePerUnit(spreadMachine, spreadCount)} µs machine CPU/hold"));

                double? bare8 = null;
                foreach (var clients in new[] { 1, 8, 32 })
                {
                    var tps = await PgbenchAsync(database, clients, TimeSpan.FromSeconds(Math.Max(5, seconds / 2)));
                    bare8 = clients == 8 ? tps : bare8;
                    report.Add(($"pgbench: bare conditional UPDATE of the hot row, {clients} client(s)", $"{tps:N0} tps", "one hold per transaction, durable commit"));
                }

                report.Add(("Hot-SKU holds at 64 clients ÷ bare UPDATE at 8 clients", $"{hot64 / bare8:N2}×", "same run, same PostgreSQL"));
            }

            var ingestCpu = Cpu();
            var (items, updates, total, sequence) = await IngestAsync(feeds, skus, duration, UpdateKind.Snapshot, 0);
            report.Add(("Feed ingest, gRPC stream of 5,000-item snapshots", $"{items:N0} items/s", $"{updates:N1} updates/s, each one transaction, {PerUnit(ingestCpu, total)} µs CPU/item in-process"));
            var deltaCpu = Cpu();
            var (deltaItems, deltaUpdates, deltaTotal, deltaSequence) = await IngestAsync(feeds, skus, duration, UpdateKind.Delta, sequence);
            report.Add(("Feed ingest, gRPC stream of 5,000-item deltas (levels reported before)", $"{deltaItems:N0} items/s", $"{deltaUpdates:N1} updates/s, each one transaction, {PerUnit(deltaCpu, deltaTotal)} µs CPU/item in-process"));
            // Every distributor pushing its list at once: the streams of distributors of their own, each applied in order.
            var concurrentCpu = Cpu();
            var (concurrent, concurrentUpdates, concurrentTotal, _) = await IngestAsync(feeds, skus, duration, UpdateKind.Snapshot, deltaSequence, FeedStreams);
            report.Add(($"Feed ingest, {FeedStreams} distributors' gRPC streams of 5,000-item snapshots at once", $"{concurrent:N0} items/s", $"{concurrentUpdates:N1} updates/s, each one transaction, {PerUnit(concurrentCpu, concurrentTotal)} µs CPU/item in-process"));
            await RegisterDistributorsAsync(http, LimitDistributor, "Bench upsert limit");
            var upsert = await UpsertLimitAsync(database, skus, duration, 1);
            report.Add(("Batched upsert limit: 5,000-row `INSERT … SELECT FROM unnest … ON CONFLICT DO UPDATE`, one connection", $"{upsert:N0} rows/s", "one transaction per 5,000 rows, durable commit, no service in the way"));
            var upsertConcurrent = await UpsertLimitAsync(database, skus, duration, FeedStreams);
            report.Add(($"Batched upsert limit, {FeedStreams} connections at once (a distributor each)", $"{upsertConcurrent:N0} rows/s", "the same statement, no service in the way"));
            report.Add(("Feed ingest ÷ batched-upsert limit", $"{items / upsert:N2}×", "same run, same PostgreSQL"));
            report.Add(("Delta ingest ÷ batched-upsert limit", $"{deltaItems / upsert:N2}×", "same run, same PostgreSQL"));
            report.Add(($"Feed ingest of {FeedStreams} distributors at once ÷ batched-upsert limit at {FeedStreams} connections", $"{concurrent / upsertConcurrent:N2}×", "same run, same PostgreSQL"));
        }
        finally
        {
            await TestInfrastructure.DropDatabaseAsync(database);
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
        }

        var markdown = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## Inventory, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC ({Environment.ProcessorCount} cores, {seconds} s per run)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Load average (1 min) before: {loadBefore}, after: {LoadAverage()} — other work on the machine competes for the same cores; compare figures taken at similar load.")
            .AppendLine()
            .AppendLine("Service on Kestrel in the bench process (gRPC over HTTP/2, loopback), PostgreSQL 15 with durable commits, RabbitMQ for the outbox relay; every hold is 1 unit for a new reservation. "
                + "The PlaceHolds clients run in a process of their own, so *service CPU/hold* is the service's alone; *machine CPU/hold* is every process's (clients, service, PostgreSQL, RabbitMQ, and whatever else the machine ran), from /proc/stat.")
            .AppendLine()
            .AppendLine("| run | figure | notes |")
            .AppendLine("|---|---|---|");
        foreach (var (name, figure, notes) in report)
        {
            markdown.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {figure} | {notes} |");
        }

        Console.WriteLine(markdown);
        if (!writeDocs)
        {
            return;
        }

        var docs = Path.Combine(FindRepoRoot(), "docs", "benchmarks.md");
        if (!File.Exists(docs))
        {
            await File.WriteAllTextAsync(docs, "# Benchmarks\n\nFigures measured on the project's machine; see each section for how.\n\n");
        }

        await File.AppendAllTextAsync(docs, markdown.AppendLine().ToString());
        Console.WriteLine($"Appended to {docs}");
    }

    /// <summary>Sum and count of the <c>inventory.holds.batch_size</c> histogram, scraped from /metrics.</summary>
    private static async Task<(double Sum, double Count)> BatchSizeAsync(HttpClient http)
    {
        var metrics = await http.GetStringAsync("/metrics");
        double Read(string name) => Regex.Match(metrics, $@"^{name}(?:{{[^}}]*}})? ([0-9.eE+]+)", RegexOptions.Multiline) is { Success: true } m
            ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : 0;
        return (Read("inventory_holds_batch_size_sum"), Read("inventory_holds_batch_size_count"));
    }

    private static string MeanBatch((double Sum, double Count) before, (double Sum, double Count) after) =>
        after.Count > before.Count ? ((after.Sum - before.Sum) / (after.Count - before.Count)).ToString("N1", CultureInfo.InvariantCulture) : "n/a";

    /// <summary>
    /// The machine's limit for writing a snapshot: the same 5,000 rows a bench snapshot carries, upserted by one set-based
    /// statement per transaction on each of <paramref name="connections"/> connections (a distributor's levels each), with
    /// nothing else (no service, no validation, no events).
    /// </summary>
    private static async Task<double> UpsertLimitAsync(string database, string[] skus, TimeSpan duration, int connections)
    {
        var keys = skus.SelectMany(sku => Enumerable.Range(0, 500).Select(w => (Sku: sku, Warehouse: $"W{w:D3}"))).ToArray();
        var stop = Stopwatch.StartNew();
        var rows = await Task.WhenAll(Enumerable.Range(0, connections).Select(c => UpsertAsync(database, LimitDistributor(c), keys, stop, duration)));
        return rows.Sum() / stop.Elapsed.TotalSeconds;
    }

    /// <summary>The distributors whose levels the upsert limit writes: "bench-limit", then "bench-limit-2", ….</summary>
    private static string LimitDistributor(int index) => Numbered("bench-limit", index);

    private static async Task<long> UpsertAsync(string database, string distributorId, (string Sku, string Warehouse)[] keys, Stopwatch stop, TimeSpan duration)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        long rows = 0;
        var round = 0L;
        while (stop.Elapsed < duration)
        {
            round++;
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var command = new NpgsqlCommand("""
                INSERT INTO stock_levels (distributor_id, sku, warehouse, on_hand, held, committed, last_granted, unit_price, currency, lead_time_days, minimum_order_quantity, updated_at)
                SELECT @distributor, u.sku, u.warehouse, u.on_hand, 0, 0, 0, 1000, 'USD', 0, 1, now()
                FROM unnest(@skus::text[], @warehouses::text[], @onHand::bigint[]) AS u(sku, warehouse, on_hand)
                ON CONFLICT (distributor_id, sku, warehouse) DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at
                """, connection, transaction))
            {
                command.Parameters.AddWithValue("distributor", distributorId);
                command.Parameters.AddWithValue("skus", keys.Select(k => k.Sku).ToArray());
                command.Parameters.AddWithValue("warehouses", keys.Select(k => k.Warehouse).ToArray());
                command.Parameters.AddWithValue("onHand", keys.Select((_, i) => (round + i) % 97).ToArray());
                await command.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();
            rows += keys.Length;
        }

        return rows;
    }

    private static TimeSpan Cpu() => Process.GetCurrentProcess().TotalProcessorTime;

    /// <summary>
    /// The process's CPU once a burst of holds is over: the first second and the two after it, as shares of one core, with
    /// the first second split by the runtime's thread names (so the tiered JIT's background compilation and the GC are
    /// told from the thread pool, where the outbox relay runs), and the outbox rows still waiting when the burst ended and
    /// one second later (what the relay had left to send).
    /// </summary>
    private static async Task<(string Name, string Figure, string Notes)> IdleAfterBurstAsync(string database, string name)
    {
        var backlogAtEnd = await OutboxBacklogAsync(database);
        // Read before the process's CPU, so the reading of every thread's counters is outside the second measured.
        var threadsAtStart = ThreadCpu();
        var start = Cpu();
        await Task.Delay(TimeSpan.FromSeconds(1));
        var afterFirst = Cpu();
        var threads = SpentByKind(threadsAtStart);
        var backlogAfter = await OutboxBacklogAsync(database);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var first = (afterFirst - start).TotalMilliseconds / 1000;
        var next = (Cpu() - afterFirst).TotalMilliseconds / 2000;
        var split = string.Join(", ", threads
            .Select(t => (t.Key, Share: t.Value.TotalMilliseconds / 1000))
            .Where(t => t.Share > 0)
            .OrderByDescending(t => t.Share)
            .Select(t => $"{t.Key} {t.Share:P0}"));
        Console.WriteLine($"{name}: {first:P1} of a core in the first second ({split}), {next:P1} in the next two; outbox rows waiting {backlogAtEnd:N0} → {backlogAfter:N0}");
        return (name, $"{first:P1} of a core in the first second", $"by thread: {(split.Length == 0 ? "none" : split)}; {next:P1} in the next two seconds; outbox rows waiting at the burst's end {backlogAtEnd:N0}, one second later {backlogAfter:N0}");
    }

    /// <summary>CPU time of each thread of this process, with its kind (Linux: /proc/self/task/*/stat, in clock ticks of 10 ms).</summary>
    private static Dictionary<int, (string Kind, TimeSpan Cpu)> ThreadCpu()
    {
        var threads = new Dictionary<int, (string Kind, TimeSpan Cpu)>();
        if (!Directory.Exists("/proc/self/task"))
        {
            return threads;
        }

        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread ended
            }

            var name = stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..stat.LastIndexOf(')')];
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            var kind = name switch
            {
                _ when name.StartsWith(".NET Tiered", StringComparison.Ordinal) => "tiered JIT",
                _ when name.Contains("GC", StringComparison.Ordinal) => "GC",
                ".NET TP Worker" => "thread pool",
                _ => "other",
            };
            threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = (kind, TimeSpan.FromMilliseconds(ticks * 10));
        }

        return threads;
    }

    /// <summary>
    /// CPU spent since <paramref name="before"/> by the threads alive now, per kind (a thread started since counts whole).
    /// Compared thread by thread: the thread pool retires idle workers and starts new ones, so sums per kind taken at two
    /// moments do not subtract.
    /// </summary>
    private static Dictionary<string, TimeSpan> SpentByKind(Dictionary<int, (string Kind, TimeSpan Cpu)> before) =>
        ThreadCpu()
            .GroupBy(t => t.Value.Kind, t => t.Value.Cpu - (before.TryGetValue(t.Key, out var then) ? then.Cpu : TimeSpan.Zero))
            .ToDictionary(g => g.Key, g => g.Aggregate(TimeSpan.Zero, (sum, spent) => sum + spent));

    private static async Task<long> OutboxBacklogAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM outbox_message", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// The service's CPU per unit since <paramref name="before"/>, by kind of thread: a process a minute old still spends
    /// much of it in the tiered JIT recompiling what the run made hot, which a long-running service pays once. A thread
    /// that ended during the run took its CPU time with it (the thread pool retires idle workers, the JIT's background
    /// worker too): what the process spent beyond the threads still alive is shown as "ended threads".
    /// </summary>
    private static string ThreadsPerUnit(TimeSpan cpuBefore, Dictionary<int, (string Kind, TimeSpan Cpu)> before, long units)
    {
        if (units == 0)
        {
            return "n/a";
        }

        var process = Cpu() - cpuBefore;
        var byKind = SpentByKind(before).Select(t => (t.Key, Spent: t.Value)).ToList();
        byKind.Add(("ended threads", process - byKind.Aggregate(TimeSpan.Zero, (sum, t) => sum + t.Spent)));
        return string.Join(", ", byKind
            .Select(t => (t.Key, PerUnit: t.Spent.TotalMicroseconds / units))
            .Where(t => t.PerUnit >= 1)
            .OrderByDescending(t => t.PerUnit)
            .Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Key} {t.PerUnit:N0}")));
    }

    private static string PerUnit(TimeSpan cpuBefore, long units) =>
        units == 0 ? "n/a" : ((Cpu() - cpuBefore).TotalMicroseconds / units).ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>
    /// Runs <see cref="HoldsAsync"/> in a child process (this program with <see cref="HoldsClientMode"/>) against the
    /// service's gRPC port: the clients' own gRPC work would otherwise count as the service's CPU, and at 64 clients it is
    /// about as much as the service's.
    /// </summary>
    private static async Task<(double Rate, double P50, double P99, long Count)> HoldsInClientProcessAsync(int grpcPort, int clients, TimeSpan duration, bool spread)
    {
        var start = new ProcessStartInfo { FileName = Environment.ProcessPath!, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(BenchProgram).Assembly.Location);
        }

        foreach (var argument in new[] { HoldsClientMode, $"http://127.0.0.1:{grpcPort}", clients.ToString(CultureInfo.InvariantCulture),
                     duration.TotalSeconds.ToString(CultureInfo.InvariantCulture), spread ? "spread" : "hot" })
        {
            start.ArgumentList.Add(argument);
        }

        // What ordering's activities present to the holds ledger.
        start.Environment["BENCH_SERVICE_TOKEN"] = TestTokens.Service();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("The holds client process did not start.");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"The holds client process failed ({process.ExitCode}): {output}");
        }

        var figures = output.Trim().Split('\n')[^1].Split(' ').Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        return (figures[0], figures[1], figures[2], (long)figures[3]);
    }

    /// <summary>The child's side: <c>--holds-client ADDRESS CLIENTS SECONDS hot|spread</c>; prints "rate p50 p99 count".</summary>
    private static async Task RunHoldsClientAsync(string[] args)
    {
        using var channel = GrpcChannel.ForAddress(args[1]);
        var ledger = new HoldsLedgerClient(channel);
        var headers = Bearer(Environment.GetEnvironmentVariable("BENCH_SERVICE_TOKEN") ?? throw new InvalidOperationException("BENCH_SERVICE_TOKEN is not set."));
        Func<Random, (string Sku, string Warehouse)> pick = args[4] == "spread"
            ? random => (Skus[random.Next(Skus.Length)], $"W{random.Next(100):D3}")
            : _ => (HotSku, "HOT");
        var (rate, p50, p99, count) = await HoldsAsync(ledger, headers, int.Parse(args[2], CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(double.Parse(args[3], CultureInfo.InvariantCulture)), pick);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rate} {p50} {p99} {count}"));
    }

    /// <summary>Busy time of the whole machine so far, every core summed (/proc/stat: all but idle and iowait).</summary>
    private static TimeSpan MachineBusy()
    {
        if (!File.Exists("/proc/stat"))
        {
            return TimeSpan.Zero;
        }

        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var busy = fields.Take(8).Sum() - fields[3] - fields[4];
        return TimeSpan.FromMilliseconds(busy * 10);
    }

    private static string MachinePerUnit(TimeSpan busyBefore, long units) =>
        units == 0 ? "n/a" : ((MachineBusy() - busyBefore).TotalMicroseconds / units).ToString("N0", CultureInfo.InvariantCulture);

    private static async Task<(double Rate, double P50, double P99, long Count)> HoldsAsync(
        HoldsLedgerClient ledger, Grpc.Core.Metadata headers, int clients, TimeSpan duration, Func<Random, (string Sku, string Warehouse)> pick)
    {
        var latencies = new List<double>[clients];
        var stop = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var random = new Random(c);
            var mine = latencies[c] = [];
            while (stop.Elapsed < duration)
            {
                var (sku, warehouse) = pick(random);
                var request = new PlaceHoldsRequest
                {
                    ReservationId = Guid.NewGuid().ToString(),
                    PlanVersion = 1,
                    ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(1)),
                    Holds = { new HoldRequest { DistributorId = "bench", Sku = sku, Warehouse = warehouse, Quantity = 1 } },
                };
                var started = Stopwatch.GetTimestamp();
                var response = await ledger.PlaceHoldsAsync(request, headers);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (response.Holds[0].Held != 1)
                {
                    throw new InvalidOperationException("A bench hold was not placed.");
                }
            }
        }));
        var elapsed = stop.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return (all.Length / elapsed, all[all.Length / 2], all[(int)(all.Length * 0.99)], all.Length);
    }

    private static async Task<double> PgbenchAsync(string database, int clients, TimeSpan duration)
    {
        var script = Path.GetTempFileName();
        await File.WriteAllTextAsync(script, """
            UPDATE stock_levels SET held = held + LEAST(1, on_hand - held - committed), last_granted = LEAST(1, on_hand - held - committed)
            WHERE distributor_id = 'bench' AND sku = 'NVIDIA-H100-SXM5-80GB' AND warehouse = 'HOT' AND on_hand - held - committed > 0;

            """);
        var target = new NpgsqlConnectionStringBuilder(database);
        var start = new ProcessStartInfo("/usr/lib/postgresql/15/bin/pgbench") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-n", "-f", script, "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", Math.Min(clients, 2).ToString(CultureInfo.InvariantCulture),
            "-T", ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-h", target.Host!, "-p", target.Port.ToString(CultureInfo.InvariantCulture),
            "-U", target.Username!, target.Database! })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PGPASSWORD"] = target.Password;
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        File.Delete(script);
        var match = Regex.Match(output, @"tps = ([0-9.]+)");
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
    }

    /// <summary>
    /// A stream of 5,000-item updates from each of <paramref name="distributors"/> distributors at once, for
    /// <paramref name="duration"/>, sequences after <paramref name="lastSequence"/>; each stream waits for nothing but its own.
    /// A snapshot sets every level; a delta (price and currency omitted, as for stock reported before) adds 1–3 units to
    /// each, so none is refused and every level is written.
    /// </summary>
    private static async Task<(double ItemsPerSecond, double UpdatesPerSecond, long Items, long LastSequence)> IngestAsync(
        StockFeedsClient feeds, string[] skus, TimeSpan duration, UpdateKind kind, long lastSequence, int distributors = 1)
    {
        var stop = Stopwatch.StartNew();
        var streams = await Task.WhenAll(Enumerable.Range(0, distributors).Select(d => StreamAsync(feeds, FeedDistributor(d), skus, stop, duration, kind, lastSequence)));
        var elapsed = stop.Elapsed.TotalSeconds;
        var items = streams.Sum(s => s.Items);
        return (items / elapsed, streams.Sum(s => s.Updates) / elapsed, items, streams.Max(s => s.LastSequence));
    }

    /// <summary>The bench's feed distributors: the first is "bench-feed", the others "bench-feed-2", "bench-feed-3", ….</summary>
    private static string FeedDistributor(int index) => Numbered("bench-feed", index);

    private static string Numbered(string first, int index) => index == 0 ? first : $"{first}-{index + 1}";

    /// <summary>
    /// Registers <see cref="FeedStreams"/> distributors, <paramref name="idOf"/> giving each one's id by its index and
    /// its display name <paramref name="namePrefix"/> followed by its number.
    /// </summary>
    private static async Task RegisterDistributorsAsync(HttpClient http, Func<int, string> idOf, string namePrefix)
    {
        for (var d = 0; d < FeedStreams; d++)
        {
            (await http.PostAsJsonAsync("/v1/distributors", new { id = idOf(d), name = $"{namePrefix} {d + 1}" })).EnsureSuccessStatusCode();
        }
    }

    private static async Task<(long Items, int Updates, long LastSequence)> StreamAsync(
        StockFeedsClient feeds, string distributorId, string[] skus, Stopwatch stop, TimeSpan duration, UpdateKind kind, long lastSequence)
    {
        var sequence = lastSequence;
        long items = 0;
        var updates = 0;
        using var call = feeds.Publish(Bearer(TestTokens.Distributor(distributorId)));
        while (stop.Elapsed < duration)
        {
            var update = new StockUpdate { DistributorId = distributorId, Sequence = ++sequence, Kind = kind };
            foreach (var sku in skus)
            {
                for (var w = 0; w < 500; w++)
                {
                    update.Items.Add(kind == UpdateKind.Snapshot
                        ? new StockItem { Sku = sku, Warehouse = $"W{w:D3}", QuantityOnHand = (sequence + w) % 97, UnitPrice = 1000m, Currency = "USD" }
                        : new StockItem { Sku = sku, Warehouse = $"W{w:D3}", QuantityChange = 1 + (sequence + w) % 3 });
                }
            }

            await call.RequestStream.WriteAsync(update);
            items += update.Items.Count;
            updates++;
        }

        await call.RequestStream.CompleteAsync();
        var summary = await call;
        if (summary.Results.Any(r => r.Outcome != UpdateOutcome.Applied))
        {
            throw new InvalidOperationException("A bench stock update was not applied.");
        }

        return (items, updates, sequence);
    }

    private static Grpc.Core.Metadata Bearer(string token) => new() { { "Authorization", $"Bearer {token}" } };

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";

    internal static string FindRepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Brokering.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? Directory.GetCurrentDirectory();
    }
}

/// <summary>The inventory service on real Kestrel sockets (HTTP/1.1 and HTTP/2 on the given ports).</summary>
internal sealed class BenchHost(string database, Uri virtualHost, int httpPort, int grpcPort) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseContentRoot(Path.Combine(BenchProgram.FindRepoRoot(), "services", "Inventory"));
        builder.UseSetting("ConnectionStrings:Database", database);
        builder.UseSetting("ConnectionStrings:RabbitMq", virtualHost.ToString());
        builder.UseSetting("Kestrel:Endpoints:Http:Url", $"http://127.0.0.1:{httpPort}");
        builder.UseSetting("Kestrel:Endpoints:Grpc:Url", $"http://127.0.0.1:{grpcPort}");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        foreach (var (key, value) in TestTokens.Settings("inventory"))
        {
            builder.UseSetting(key, value);
        }

        // The bench measures what the ledger can do, from one tenant: the per-tenant rate limit (200/s) would measure
        // the limiter instead, answering 429 once the bucket is empty.
        builder.UseSetting("RateLimiting:PermitsPerSecondPerTenant", "1000000");
        builder.UseEnvironment("Production");
    }
}
