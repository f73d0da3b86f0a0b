using Brokering.ServiceDefaults;
using Brokering.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Brokering.Inventory.DistributorWebhooks;

/// <summary>
/// The distributors' webhook tables (<c>webhook_subscriptions</c>, <c>webhook_deliveries</c>), in inventory's database
/// beside the holds their events describe, with their own migrations (history table
/// <c>__webhooks_migrations_history</c>) so their schema evolves without touching the ledger's.
/// </summary>
public sealed class DistributorWebhooksDbContext(DbContextOptions<DistributorWebhooksDbContext> options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__webhooks_migrations_history";

    /// <summary>Options on the service's database, with the webhooks' own migrations history.</summary>
    public static void Configure(DbContextOptionsBuilder options, string connectionString) =>
        options.UseServiceDatabase(connectionString)
            .UseNpgsql(npgsql => npgsql.MigrationsHistoryTable(MigrationsHistoryTable));

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddWebhookTables();

        // An event becomes one first delivery per subscription, however often the bus brings it (at least once).
        modelBuilder.Entity<WebhookDelivery>().HasIndex(d => new { d.SubscriptionId, d.EventId }).IsUnique().HasFilter("replay_of IS NULL");
    }
}

/// <summary>Lets <c>dotnet ef migrations add --context DistributorWebhooksDbContext</c> build the model without starting the service.</summary>
internal sealed class DesignTimeDistributorWebhooksDbContextFactory : IDesignTimeDbContextFactory<DistributorWebhooksDbContext>
{
    public DistributorWebhooksDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<DistributorWebhooksDbContext>();
        DistributorWebhooksDbContext.Configure(options, "Host=127.0.0.1;Database=brokering_inventory;Username=postgres;Password=postgres");
        return new DistributorWebhooksDbContext(options.Options);
    }
}
