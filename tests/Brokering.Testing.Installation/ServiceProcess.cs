using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Brokering.Testing.Installation;

/// <summary>
/// One Brokering service running as its own process from its build output, on real ports:
/// what production runs, minus the container. It can be killed (SIGKILL, no shutdown hooks) and
/// started again on the same ports with the same environment, as a crashed pod is.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly StringBuilder output = new();
    private readonly List<string> errors = [];
    private readonly StreamWriter? logFile;
    private readonly string dll;
    private readonly IReadOnlyDictionary<string, string> environment;
    private readonly bool exactEnvironment;
    private Process process = null!;

    private ServiceProcess(
        string name, string dll, Uri rest, Uri grpc, IReadOnlyDictionary<string, string> environment, bool exactEnvironment = false, long? memoryLimit = null)
    {
        Memory = memoryLimit is { } limit ? MemoryCgroup.Create(name, limit) : null;
        Name = name;
        this.dll = dll;
        this.environment = environment;
        this.exactEnvironment = exactEnvironment;
        Rest = rest;
        Grpc = grpc;
        // RecentOutput keeps the last lines for a failure message; a fault that needs the whole story (a relay failing
        // for minutes) is read from the full log, written when BROKERING_SERVICE_LOGS names a directory.
        var logs = Environment.GetEnvironmentVariable("BROKERING_SERVICE_LOGS");
        if (!string.IsNullOrEmpty(logs))
        {
            Directory.CreateDirectory(logs);
            logFile = new StreamWriter(Path.Combine(logs, $"{name}-{Guid.NewGuid():N}.log")) { AutoFlush = true };
        }
    }

    public string Name { get; }

    /// <summary>The memory cgroup the process runs in, limited as a container is; null when it runs unlimited.</summary>
    public MemoryCgroup? Memory { get; }

    public Uri Rest { get; }
    public Uri Grpc { get; }

    /// <summary>How many times the process was started (1 until <see cref="StartAgain"/>).</summary>
    public int Starts { get; private set; }

    /// <summary>Whether the current process is still running.</summary>
    public bool IsRunning => !process.HasExited;

    /// <summary>
    /// The first lines the service logged at Error or Critical (structured logging writes the level into each line),
    /// whenever they came: <see cref="RecentOutput"/> keeps only the last lines.
    /// </summary>
    public IReadOnlyList<string> ErrorLines
    {
        get
        {
            lock (output)
            {
                return [.. errors];
            }
        }
    }

    public string RecentOutput
    {
        get
        {
            lock (output)
            {
                var text = output.ToString();
                return text.Length > 6000 ? text[^6000..] : text;
            }
        }
    }

    /// <summary>Starts a service in Development on free ports; under <paramref name="memoryLimit"/> bytes when given (see <see cref="MemoryCgroup"/>).</summary>
    public static ServiceProcess Start(string name, IReadOnlyDictionary<string, string> environment, long? memoryLimit = null)
    {
        var ports = FreePort.Next(2);
        var rest = new Uri($"http://127.0.0.1:{ports[0]}");
        var grpc = new Uri($"http://127.0.0.1:{ports[1]}");
        var service = new ServiceProcess(name, Dll(name), rest, grpc, new Dictionary<string, string>(environment), memoryLimit: memoryLimit);
        service.Launch();
        return service;
    }

    /// <summary>
    /// Starts a service with exactly <paramref name="environment"/> and nothing inherited from the test process (no
    /// Development default, no Kestrel addresses, no HOME): how a deployment recipe's container environment is run as
    /// it is. <paramref name="rest"/> and <paramref name="grpc"/> are where the environment makes it listen; with
    /// <paramref name="memoryLimit"/>, the container's memory limit in bytes, it runs under that limit.
    /// </summary>
    public static ServiceProcess StartWithExactly(string name, Uri rest, Uri grpc, IReadOnlyDictionary<string, string> environment, long? memoryLimit = null)
    {
        var service = new ServiceProcess(name, Dll(name), rest, grpc, new Dictionary<string, string>(environment), exactEnvironment: true, memoryLimit);
        service.Launch();
        return service;
    }

    /// <summary>
    /// Kills the process outright (SIGKILL on Linux: no graceful shutdown, in-flight work and unacknowledged
    /// messages are simply dropped) and waits until it is gone.
    /// </summary>
    public async Task KillAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
        Append($"[fault] {Name} killed");
    }

    /// <summary>Starts the service again on the same ports with the same environment, after <see cref="KillAsync"/>.</summary>
    public void StartAgain()
    {
        if (!process.HasExited)
        {
            throw new InvalidOperationException($"{Name} is still running; kill it first.");
        }

        process.Dispose();
        Append($"[fault] {Name} started again");
        Launch();
    }

    private void Launch()
    {
        // In a memory cgroup: a shell joins it and becomes dotnet (exec), so the runtime starts inside the limit and sizes
        // its heap from it, and killing the process kills the service itself.
        var start = Memory is null
            ? new ProcessStartInfo("dotnet", [dll])
            : new ProcessStartInfo("/bin/sh", ["-c", "echo $$ > \"$0\" && exec \"$1\" \"$2\"", Memory.Processes, DotnetHost.Value, dll]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.WorkingDirectory = Path.GetDirectoryName(dll)!;
        if (exactEnvironment)
        {
            start.Environment.Clear();
        }
        else
        {
            start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
            start.Environment["Kestrel__Endpoints__Http__Url"] = Rest.ToString();
            start.Environment["Kestrel__Endpoints__Grpc__Url"] = Grpc.ToString();
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Name}.");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Starts++;
    }

    public async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = Rest, Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.Until(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {process.ExitCode}{OomNote}:\n{RecentOutput}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false; // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                return false; // Slow to answer while starting.
            }
        }, $"{Name} to be ready", timeout, TimeSpan.FromMilliseconds(250), details: () => RecentOutput);
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        Memory?.Dispose();
        lock (output)
        {
            logFile?.Dispose();
        }
    }

    /// <summary>What to add to an exit's report when the kernel killed the process for its memory limit.</summary>
    public string OomNote => Memory is { OomKills: > 0 } memory ? $" (killed for going over its {memory.Limit / (1024 * 1024)} MiB memory limit)" : string.Empty;

    // The dotnet host by its full path, found on the test process's PATH: a service started with exactly a recipe's
    // environment has no PATH of its own for the shell that puts it in its memory cgroup.
    private static readonly Lazy<string> DotnetHost = new(() =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "dotnet"))
            .FirstOrDefault(File.Exists) ?? "dotnet");

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
            logFile?.WriteLine(line);
            if (errors.Count < 20 && (line.Contains("\"LogLevel\":\"Error\"", StringComparison.Ordinal)
                || line.Contains("\"LogLevel\":\"Critical\"", StringComparison.Ordinal)))
            {
                errors.Add(line);
            }
        }
    }

    /// <summary>
    /// The service's entry assembly: the solution's build output, or, when BROKERING_SERVICES_DIR names a directory, the
    /// published service in its sub-directory of that name (<c>dotnet publish services/Ordering -o DIR/Ordering</c>), so
    /// a benchmark or a deployment check can run exactly what an image would ship (ReadyToRun, say).
    /// </summary>
    private static string Dll(string name)
    {
        var published = Environment.GetEnvironmentVariable("BROKERING_SERVICES_DIR");
        var dll = string.IsNullOrEmpty(published)
            ? Path.Combine(RepositoryRoot(), "services", name, "bin", BuildConfiguration(), "net10.0", $"Brokering.{name}.dll")
            : Path.Combine(published, name, $"Brokering.{name}.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build the solution first: {dll} is missing.", dll);
    }

    private static string BuildConfiguration() =>
        typeof(ServiceProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>The checkout the tests run from (where Brokering.sln is).</summary>
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Brokering.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Brokering.sln not found above the test output.");
    }
}
