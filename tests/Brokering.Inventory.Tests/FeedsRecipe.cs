using System.Diagnostics;
using System.Globalization;
using Brokering.Testing;
using RabbitMQ.Client;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The feeds virtual host as operators make it: <c>deploy/local/rabbitmq-feeds.sh</c> run on a fresh virtual host, and
/// the two accounts it prints (a distributor's, inventory's). The hostile connections use RabbitMQ.Client directly.
/// </summary>
internal static class FeedsRecipe
{
    /// <summary>Runs the recipe on a fresh virtual host; returns it and the distributor's and inventory's amqp:// URIs on it.</summary>
    public static async Task<(Uri VirtualHost, Uri Distributor, Uri InventoryFeeds)> CreateAsync(string prefix)
    {
        var settings = await TestInfrastructure.GetSettingsAsync();
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync(prefix);
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Brokering.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        }

        var start = new ProcessStartInfo("bash", [Path.Combine(root, "deploy/local/rabbitmq-feeds.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["BROKERING_FEEDS_VHOST"] = Uri.UnescapeDataString(virtualHost.AbsolutePath.TrimStart('/'));
        start.Environment["BROKERING_RABBITMQ_PORT"] = settings.RabbitMqUri.Port.ToString(CultureInfo.InvariantCulture);
        start.Environment["BROKERING_RABBITMQ_MANAGEMENT_PORT"] = settings.RabbitMqManagementUri.Port.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        process.ExitCode.ShouldBe(0, error);
        var exports = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line["export ".Length..].Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair[1].Trim('"'));
        return (virtualHost, new Uri(exports["BROKERING_RABBITMQ_DISTRIBUTOR_FEED"]), new Uri(exports["BROKERING_RABBITMQ_FEEDS"]));
    }

    /// <summary>Connects with the account of <paramref name="uri"/>, to its virtual host or to <paramref name="virtualHost"/>.</summary>
    public static async Task<IConnection> ConnectAsync(Uri uri, string? virtualHost = null)
    {
        var factory = new ConnectionFactory { Uri = uri, AutomaticRecoveryEnabled = false };
        if (virtualHost is not null)
        {
            // Set after Uri, which would otherwise choose the virtual host from its path.
            factory.VirtualHost = virtualHost;
        }

        // RabbitMQ.Client 7 may return before the broker's refusal of the virtual host arrives; it surfaces on first use.
        return await factory.CreateConnectionAsync();
    }

    /// <summary>An exception and every exception inside it.</summary>
    public static IEnumerable<Exception> Flatten(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            yield return current;
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
