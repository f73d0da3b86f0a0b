using System.Diagnostics;
using System.Globalization;

namespace Brokering.Testing.Installation;

/// <summary>
/// The services' own broker accounts as the local recipe makes them (<c>deploy/local/rabbitmq-services.sh</c>, least
/// privilege per service) on a virtual host of the test's, so an installation runs on exactly those permissions.
/// </summary>
public static class ServiceBrokerAccounts
{
    private static readonly string[] Services = ["ordering", "inventory", "compliance"];

    /// <summary>Runs the recipe with <paramref name="virtualHost"/> as the internal virtual host; returns each service's amqp:// URI by name.</summary>
    public static async Task<IReadOnlyDictionary<string, Uri>> CreateAsync(Uri virtualHost)
    {
        ArgumentNullException.ThrowIfNull(virtualHost);
        var settings = await TestInfrastructure.GetSettingsAsync();
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Brokering.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        }

        var start = new ProcessStartInfo("bash", [Path.Combine(root, "deploy/local/rabbitmq-services.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["BROKERING_INTERNAL_VHOST"] = Uri.UnescapeDataString(virtualHost.AbsolutePath.TrimStart('/'));
        start.Environment["BROKERING_RABBITMQ_PORT"] = settings.RabbitMqUri.Port.ToString(CultureInfo.InvariantCulture);
        start.Environment["BROKERING_RABBITMQ_MANAGEMENT_PORT"] = settings.RabbitMqManagementUri.Port.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmq-services.sh failed ({process.ExitCode}): {error}");
        }

        var exports = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line["export ".Length..].Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair[1].Trim('"'));
        return Services.ToDictionary(service => service, service => new Uri(exports[$"BROKERING_RABBITMQ_{service.ToUpperInvariant()}"]));
    }
}
