using System.Diagnostics;
using System.Globalization;

namespace Brokering.Testing;

/// <summary>
/// Runs one of the local recipe's broker scripts (<c>deploy/local/rabbitmq-*.sh</c>) against the test broker, on a
/// virtual host of the test's, so a test gets exactly the accounts and permissions the recipe makes.
/// </summary>
public static class LocalRecipe
{
    /// <summary>
    /// Runs <c>deploy/local/{script}</c> with <paramref name="vhostVariable"/> naming <paramref name="virtualHost"/>;
    /// returns what it exports (<c>export NAME="value"</c> lines), by name. A script that fails throws with its error output.
    /// </summary>
    public static Task<Dictionary<string, string>> RunAsync(string script, string vhostVariable, Uri virtualHost, params string[] arguments) =>
        RunAsync(script, vhostVariable, virtualHost, new Dictionary<string, string>(), arguments);

    /// <summary>The same, with the script's settings in <paramref name="environment"/> (e.g. smaller bounds for a test).</summary>
    public static async Task<Dictionary<string, string>> RunAsync(
        string script, string vhostVariable, Uri virtualHost, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(virtualHost);
        var settings = await TestInfrastructure.GetSettingsAsync();
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Brokering.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        }

        var start = new ProcessStartInfo("bash", [Path.Combine(root, "deploy/local", script), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment[vhostVariable] = VirtualHostName(virtualHost);
        start.Environment["BROKERING_RABBITMQ_PORT"] = settings.RabbitMqUri.Port.ToString(CultureInfo.InvariantCulture);
        start.Environment["BROKERING_RABBITMQ_MANAGEMENT_PORT"] = settings.RabbitMqManagementUri.Port.ToString(CultureInfo.InvariantCulture);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"deploy/local/{script} failed ({process.ExitCode}): {error}");
        }

        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line["export ".Length..].Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair[1].Trim('"'));
    }

    /// <summary>The name of the virtual host an amqp:// URI names.</summary>
    public static string VirtualHostName(Uri virtualHost)
    {
        ArgumentNullException.ThrowIfNull(virtualHost);
        return Uri.UnescapeDataString(virtualHost.AbsolutePath.TrimStart('/'));
    }
}
