using Brokering.Testing;
using RabbitMQ.Client;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The broker accounts as the local recipe makes them, on fresh virtual hosts: <c>deploy/local/rabbitmq-feeds.sh</c> (the
/// feeds virtual host, a distributor's and inventory's accounts there) and <c>deploy/local/rabbitmq-services.sh</c> (each
/// service's own account on the internal virtual host). The hostile connections use RabbitMQ.Client directly.
/// </summary>
internal static class FeedsRecipe
{
    private static readonly string[] Services = ["ordering", "inventory", "compliance"];

    /// <summary>
    /// Runs the recipe on a fresh virtual host (with the recipe's <paramref name="settings"/>, e.g. smaller bounds); returns
    /// it and the distributor's and inventory's amqp:// URIs on it.
    /// </summary>
    public static async Task<(Uri VirtualHost, Uri Distributor, Uri InventoryFeeds)> CreateAsync(string prefix, IReadOnlyDictionary<string, string>? settings = null)
    {
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync(prefix);
        var exports = await LocalRecipe.RunAsync("rabbitmq-feeds.sh", "BROKERING_FEEDS_VHOST", virtualHost, settings ?? new Dictionary<string, string>());
        return (virtualHost, new Uri(exports["BROKERING_RABBITMQ_DISTRIBUTOR_FEED"]), new Uri(exports["BROKERING_RABBITMQ_FEEDS"]));
    }

    /// <summary>
    /// Runs <c>deploy/local/rabbitmq-services.sh</c> (the services' own accounts) with <paramref name="internalVhost"/> as
    /// the internal virtual host; returns each service's amqp:// URI, by service name.
    /// </summary>
    public static async Task<Dictionary<string, Uri>> ServiceAccountsAsync(Uri internalVhost)
    {
        var exports = await LocalRecipe.RunAsync("rabbitmq-services.sh", "BROKERING_INTERNAL_VHOST", internalVhost);
        return Services.ToDictionary(service => service, service => new Uri(exports[$"BROKERING_RABBITMQ_{service.ToUpperInvariant()}"]));
    }

    /// <summary>
    /// Runs <c>deploy/local/rabbitmq-distributor.sh</c>: issues (or, run again, rotates) the distributor's own account on
    /// the feeds virtual host; returns its amqp:// URI, the only place its password is shown. Users are global on the
    /// broker: delete <c>distributor-orders-{id}</c> with <see cref="TestInfrastructure.DeleteUserAsync"/> when done.
    /// </summary>
    public static async Task<Uri> DistributorAccountAsync(Uri feedsVhost, string distributorId) =>
        new((await LocalRecipe.RunAsync("rabbitmq-distributor.sh", "BROKERING_FEEDS_VHOST", feedsVhost, distributorId))["BROKERING_RABBITMQ_DISTRIBUTOR_ORDERS"]);

    /// <summary>The name of the virtual host an amqp:// URI names.</summary>
    public static string NameOf(Uri virtualHost) => LocalRecipe.VirtualHostName(virtualHost);

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
