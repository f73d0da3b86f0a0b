using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Brokering.Load;

/// <summary>CPU seconds used by one party over a span, and its resident memory while it ran.</summary>
/// <param name="Name">Who: a service, PostgreSQL, RabbitMQ, the load generator, or the whole machine.</param>
/// <param name="CpuSeconds">CPU time (user + system) used in the span.</param>
/// <param name="PeakRssBytes">Largest resident set sampled (0 when not sampled).</param>
/// <param name="MeanRssBytes">Mean resident set sampled (0 when not sampled).</param>
public sealed record ResourceUse(string Name, double CpuSeconds, long PeakRssBytes, long MeanRssBytes);

/// <summary>
/// Reads /proc for where the machine's time goes: CPU time of the service processes, PostgreSQL (the
/// postmaster and every backend, exited ones included through the postmaster's reaped-children time),
/// RabbitMQ, this process and the whole machine; resident memory of the services; and the load average.
/// Linux only; elsewhere every figure reads as zero.
/// </summary>
public sealed class ProcessAccounting
{
    private const double TicksPerSecond = 100; // USER_HZ: 100 on every Linux ABI .NET runs on
    private readonly Dictionary<string, Func<double>> cpu = new(StringComparer.Ordinal);
    private readonly IReadOnlyDictionary<string, int> sampled;
    private readonly Dictionary<string, List<long>> rss = new(StringComparer.Ordinal);
    private readonly List<double> loadAverages = [];
    private Dictionary<string, double> start = new(StringComparer.Ordinal);

    private ProcessAccounting(IReadOnlyDictionary<string, int> services)
    {
        sampled = services;
        foreach (var (name, pid) in services)
        {
            cpu[name] = () => ProcessCpu(pid, withChildren: false);
            rss[name] = [];
        }

        cpu["load generator"] = () => ProcessCpu(Environment.ProcessId, withChildren: false);
        cpu["machine (all processes)"] = MachineBusy;
    }

    /// <summary>Accounts for the services of <paramref name="target"/> and, where found, its PostgreSQL and RabbitMQ.</summary>
    public static async Task<ProcessAccounting> ForAsync(LoadTarget target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var accounting = new ProcessAccounting(target.Processes);
        if (target.Databases is not null && await PostmasterOfAsync(target.Databases.Ordering, cancellationToken) is { } postmaster)
        {
            accounting.cpu["PostgreSQL (all backends)"] = () => ProcessCpu(postmaster, withChildren: true) + ChildrenCpu(postmaster);
        }

        if (await RabbitMqPidAsync(cancellationToken) is { } rabbit)
        {
            accounting.cpu["RabbitMQ"] = () => ProcessCpu(rabbit, withChildren: true);
        }

        return accounting;
    }

    /// <summary>The 1-minute load average now (NaN where /proc is missing).</summary>
    public static double LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    /// <summary>The process serving <paramref name="rest"/>: the one started with it as Kestrel's HTTP endpoint.</summary>
    public static int? FindServiceProcess(Uri rest)
    {
        ArgumentNullException.ThrowIfNull(rest);
        var wanted = rest.ToString().TrimEnd('/');
        if (!Directory.Exists("/proc"))
        {
            return null;
        }

        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                var environment = File.ReadAllText(Path.Combine(directory, "environ"), Encoding.UTF8).Split('\0');
                if (environment.Any(entry => entry.StartsWith("Kestrel__Endpoints__Http__Url=", StringComparison.Ordinal)
                    && entry["Kestrel__Endpoints__Http__Url=".Length..].TrimEnd('/') == wanted))
                {
                    return pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited meanwhile, or not ours to read.
            }
        }

        return null;
    }

    public void Start()
    {
        start = cpu.ToDictionary(pair => pair.Key, pair => pair.Value(), StringComparer.Ordinal);
        Sample();
    }

    /// <summary>Takes one memory and load sample (the run calls this every second).</summary>
    public void Sample()
    {
        lock (rss)
        {
            foreach (var (name, pid) in sampled)
            {
                if (ResidentBytes(pid) is { } bytes)
                {
                    rss[name].Add(bytes);
                }
            }

            loadAverages.Add(LoadAverage());
        }
    }

    /// <summary>Use since <see cref="Start"/>, services first, the machine last.</summary>
    public IReadOnlyList<ResourceUse> Stop()
    {
        Sample();
        lock (rss)
        {
            return [.. cpu.Select(pair =>
            {
                var samples = rss.TryGetValue(pair.Key, out var list) && list.Count > 0 ? list : null;
                return new ResourceUse(pair.Key, Math.Max(0, pair.Value() - start.GetValueOrDefault(pair.Key)),
                    samples?.Max() ?? 0, samples is null ? 0 : (long)samples.Average());
            })];
        }
    }

    /// <summary>The highest 1-minute load average sampled.</summary>
    public double PeakLoadAverage
    {
        get
        {
            lock (rss)
            {
                return loadAverages.Where(value => !double.IsNaN(value)).DefaultIfEmpty(double.NaN).Max();
            }
        }
    }

    private static double ProcessCpu(int pid, bool withChildren)
    {
        var fields = StatFields(pid);
        if (fields is null)
        {
            return 0;
        }

        // After "pid (comm)": field 14/15 are utime/stime, 16/17 cutime/cstime (1-based, as in proc(5)).
        var ticks = Tick(fields, 14) + Tick(fields, 15) + (withChildren ? Tick(fields, 16) + Tick(fields, 17) : 0);
        return ticks / TicksPerSecond;
    }

    private static double ChildrenCpu(int parent)
    {
        double total = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && StatFields(pid) is { } fields && Tick(fields, 4) == parent)
            {
                total += (Tick(fields, 14) + Tick(fields, 15)) / TicksPerSecond;
            }
        }

        return total;
    }

    /// <summary>proc(5) stat fields, 1-based, with the command name (which may hold spaces) as field 2.</summary>
    private static string[]? StatFields(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var close = text.LastIndexOf(')');
            return [.. text[..text.IndexOf(' ', StringComparison.Ordinal)].Split(' '), "comm", .. text[(close + 2)..].Split(' ')];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private static double Tick(string[] fields, int field) =>
        fields.Length > field - 1 && double.TryParse(fields[field - 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;

    private static long? ResidentBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static double MachineBusy()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(value => double.Parse(value, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal (guest time is already inside user).
            return (fields.Take(8).Sum() - fields[3] - fields[4]) / TicksPerSecond;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The postmaster of the server holding <paramref name="database"/>: the parent of our backend.</summary>
    private static async Task<int?> PostmasterOfAsync(string database, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
            var backend = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
            return StatFields(backend) is { } fields && (int)Tick(fields, 4) is > 1 and var parent ? parent : null;
        }
        catch (NpgsqlException)
        {
            return null;
        }
    }

    /// <summary>The broker's OS process, as its management API tells (BROKERING_RABBITMQ_MANAGEMENT), if reachable.</summary>
    private static async Task<int?> RabbitMqPidAsync(CancellationToken cancellationToken)
    {
        if (Environment.GetEnvironmentVariable("BROKERING_RABBITMQ_MANAGEMENT") is not { Length: > 0 } management)
        {
            return null;
        }

        try
        {
            var uri = new Uri(management);
            using var http = new HttpClient { BaseAddress = new Uri(uri.GetLeftPart(UriPartial.Authority)), Timeout = TimeSpan.FromSeconds(10) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(uri.UserInfo))));
            using var nodes = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/nodes", UriKind.Relative), cancellationToken));
            var pid = nodes.RootElement.EnumerateArray().Select(node => node.TryGetProperty("os_pid", out var value) ? value.ToString() : null).FirstOrDefault();
            return int.TryParse(pid, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or UriFormatException)
        {
            return null;
        }
    }
}
