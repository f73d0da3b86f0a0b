using Brokering.Testing;

namespace Brokering.Inventory.Tests;

/// <summary>
/// An inventory replica of a test class's own on the local recipe's accounts: a database and an internal virtual host
/// of its own (what its outbox relays stays with it, where a replica on the fixture's shared database could deliver it
/// elsewhere), a feeds virtual host set up as <c>deploy/local/rabbitmq-feeds.sh</c> sets it up, and the distributor
/// accounts the test issued; all removed on dispose.
/// </summary>
internal sealed class FeedsReplica : IAsyncDisposable
{
    private readonly List<string> accounts = [];
    private Uri inventoryAccount = null!;
    private Uri inventoryFeeds = null!;

    private FeedsReplica()
    {
    }

    public string Database { get; private set; } = null!;

    /// <summary>Inventory's internal virtual host (its own bus).</summary>
    public Uri InternalVhost { get; private set; } = null!;

    /// <summary>The feeds virtual host, as the broker admin sees it.</summary>
    public Uri FeedsVhost { get; private set; } = null!;

    /// <summary>The shared example account <c>distributor-feed</c> on the feeds virtual host.</summary>
    public Uri SharedFeedAccount { get; private set; } = null!;

    /// <summary>The running inventory replica (none between <see cref="StopInventoryAsync"/> and <see cref="StartInventoryAsync"/>).</summary>
    public InventoryHost Inventory { get; private set; } = null!;

    /// <summary>
    /// Sets the replica up and starts inventory. <paramref name="recipe"/> goes to the feeds recipe's script (bounds,
    /// say), <paramref name="settings"/> to inventory's configuration.
    /// </summary>
    public static async Task<FeedsReplica> CreateAsync(
        string name, IReadOnlyDictionary<string, string>? recipe = null, IReadOnlyDictionary<string, string>? settings = null)
    {
        var replica = new FeedsReplica
        {
            Database = await TestInfrastructure.CreateDatabaseAsync($"inventory_{name.Replace('-', '_')}"),
            InternalVhost = await TestInfrastructure.CreateVirtualHostAsync($"inventory-{name}-internal"),
        };
        (replica.FeedsVhost, replica.SharedFeedAccount, replica.inventoryFeeds) = await FeedsRecipe.CreateAsync($"brokering-feeds-{name}", recipe);
        replica.inventoryAccount = (await FeedsRecipe.ServiceAccountsAsync(replica.InternalVhost))["inventory"];
        await replica.StartInventoryAsync(settings);
        return replica;
    }

    /// <summary>Stops the running inventory replica.</summary>
    public async Task StopInventoryAsync()
    {
        if (Inventory is not null)
        {
            await Inventory.DisposeAsync();
            Inventory = null!;
        }
    }

    /// <summary>Starts inventory (stopping the running one first) with <paramref name="settings"/>.</summary>
    public async Task StartInventoryAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        await StopInventoryAsync();
        var configuration = new Dictionary<string, string>(settings ?? new Dictionary<string, string>())
        {
            ["ConnectionStrings:RabbitMqFeeds"] = inventoryFeeds.ToString(),
        };
        Inventory = await InventoryHost.StartAsync(Database, inventoryAccount, configuration);
    }

    /// <summary>Issues a distributor its own broker account (<c>deploy/local/rabbitmq-distributor.sh</c>), deleted on dispose.</summary>
    public async Task<Uri> DistributorAccountAsync(string distributorId)
    {
        accounts.Add($"distributor-orders-{distributorId}");
        return await FeedsRecipe.DistributorAccountAsync(FeedsVhost, distributorId);
    }

    public async ValueTask DisposeAsync()
    {
        await StopInventoryAsync();

        foreach (var user in accounts)
        {
            await TestInfrastructure.DeleteUserAsync(user);
        }

        await TestInfrastructure.DeleteVirtualHostAsync(InternalVhost);
        await TestInfrastructure.DeleteVirtualHostAsync(FeedsVhost);
        await TestInfrastructure.DropDatabaseAsync(Database);
    }
}
