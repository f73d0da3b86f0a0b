using System.Diagnostics;
using System.Text;

namespace Brokering.Testing.Faults;

/// <summary>Runs a server's control programs (initdb, pg_ctl, rabbitmqctl) and fails with their output.</summary>
internal static class OsCommand
{
    /// <summary>True when this process runs as root, where PostgreSQL's tools must run as user postgres.</summary>
    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>Runs <paramref name="fileName"/> to completion and returns its combined output.</summary>
    /// <exception cref="InvalidOperationException">The program exits with a non-zero code or outlives <paramref name="timeout"/>.</exception>
    public static async Task<string> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // User postgres cannot enter most working directories, and PostgreSQL's tools complain about it.
            WorkingDirectory = workingDirectory ?? "/",
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = new Process { StartInfo = start };
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException(
                $"{Describe(start)} did not finish within {timeout}. Output so far:\n{Read(output)}");
        }

        // The parameterless wait drains the asynchronous output readers.
        await process.WaitForExitAsync(CancellationToken.None);
        var text = Read(output);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Describe(start)} exited with code {process.ExitCode}:\n{text}");
        }

        return text;
    }

    /// <summary>Runs a PostgreSQL program as user postgres when this process is root (the server refuses to run as root).</summary>
    public static Task<string> RunAsPostgresAsync(string program, IEnumerable<string> arguments, TimeSpan timeout) =>
        IsRoot
            ? RunAsync("runuser", new[] { "-u", "postgres", "--", program }.Concat(arguments), timeout)
            : RunAsync(program, arguments, timeout);

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Read(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static string Describe(ProcessStartInfo start) => $"`{start.FileName} {string.Join(' ', start.ArgumentList)}`";
}
