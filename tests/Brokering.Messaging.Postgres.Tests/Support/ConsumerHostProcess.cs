using System.Diagnostics;
using System.Reflection;
using Brokering.Testing;

namespace Brokering.Messaging.Postgres.Tests.Support;

/// <summary>
/// The consumer service of <c>tests/Brokering.Messaging.Postgres.ConsumerHost</c> as a separate OS process, so a test
/// can have it SIGKILL itself at a chosen point and start a fresh one on the same database and queue.
/// </summary>
public sealed class ConsumerHostProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly List<string> _lines = [];

    ConsumerHostProcess(Process process)
    {
        _process = process;
    }

    /// <summary>Every line the process printed so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
                return _lines.ToList();
        }
    }

    public static ConsumerHostProcess Start(string database, Uri rabbitMq, bool killAfterCommit, Guid? sendEntry = null,
        int duplicatedEntries = 0)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(HostAssembly());
        start.Environment["BROKERING_CONSUMER_HOST_DATABASE"] = database;
        start.Environment["BROKERING_CONSUMER_HOST_RABBITMQ"] = rabbitMq.ToString();
        start.Environment["BROKERING_CONSUMER_HOST_KILL_AFTER_COMMIT"] = killAfterCommit ? "1" : "0";
        start.Environment["BROKERING_CONSUMER_HOST_SEND_ENTRY"] = sendEntry?.ToString() ?? "";
        start.Environment["BROKERING_CONSUMER_HOST_SEND_DUPLICATED_ENTRIES"] = duplicatedEntries > 0 ? duplicatedEntries.ToString() : "";

        var process = new Process { StartInfo = start };
        var host = new ConsumerHostProcess(process);
        process.OutputDataReceived += (_, e) => host.Add(e.Data);
        process.ErrorDataReceived += (_, e) => host.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits for the process to end (it kills itself) and returns its exit code (137 = SIGKILL).</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The consumer host did not exit within {timeout}. Output:\n{Output}");
        }

        await _process.WaitForExitAsync(); // drains the output readers
        return _process.ExitCode;
    }

    /// <summary>Waits until the process printed <paramref name="line"/>; fails early if it exits first.</summary>
    public Task WaitForLineAsync(string line, TimeSpan timeout) =>
        Eventually.Until(() => Lines.Contains(line) || !_process.HasExited
                ? Task.FromResult(Lines.Contains(line))
                : throw new InvalidOperationException($"The consumer host exited ({_process.ExitCode}) before printing \"{line}\". Output:\n{Output}"),
            $"the consumer host to print \"{line}\"", timeout, details: () => $"Output:\n{Output}");

    public bool HasExited => _process.HasExited;

    public string Output => string.Join('\n', Lines);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    void Add(string? line)
    {
        if (line is null)
            return;
        lock (_lines)
            _lines.Add(line);
    }

    /// <summary>The host's own build output (built with the tests through a project reference), like the service binaries of the end-to-end tests.</summary>
    static string HostAssembly()
    {
        var configuration = typeof(ConsumerHostProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Brokering.sln")))
            directory = directory.Parent;
        if (directory is null)
            throw new InvalidOperationException("Brokering.sln not found above the test output.");

        const string name = "Brokering.Messaging.Postgres.ConsumerHost";
        var path = Path.Combine(directory.FullName, "tests", name, "bin", configuration, "net10.0", name + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {name} first ({configuration}).", path);
    }
}
