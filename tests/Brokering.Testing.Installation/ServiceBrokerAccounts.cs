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
        var exports = await LocalRecipe.RunAsync("rabbitmq-services.sh", "BROKERING_INTERNAL_VHOST", virtualHost);
        return Services.ToDictionary(service => service, service => new Uri(exports[$"BROKERING_RABBITMQ_{service.ToUpperInvariant()}"]));
    }
}
