using Brokering.ServiceDefaults;
using Brokering.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Brokering.Ordering.Webhooks;

/// <summary>
/// The webhook tables (<c>webhook_subscriptions</c>, <c>webhook_deliveries</c>), in ordering's database beside the
/// change feed they are made from, with their own migrations (history table <c>__webhooks_migrations_history</c>) so
/// their schema evolves without touching the saga's.
/// </summary>
public sealed class WebhooksDbContext(DbContextOptions<WebhooksDbContext> options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__webhooks_migrations_history";

    public DbSet<WebhookSubscription> Subscriptions => Set<WebhookSubscription>();
    public DbSet<WebhookDelivery> Deliveries => Set<WebhookDelivery>();

    /// <summary>Options on the service's database, with the webhooks' own migrations history.</summary>
    public static void Configure(DbContextOptionsBuilder options, string connectionString) =>
        options.UseServiceDatabase(connectionString)
            .UseNpgsql(npgsql => npgsql.MigrationsHistoryTable(MigrationsHistoryTable));

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddWebhookTables();

        // A change becomes one first delivery per subscription, however often a fan-out pass is repeated.
        modelBuilder.Entity<WebhookDelivery>().HasIndex(d => new { d.SubscriptionId, d.ChangePosition }).IsUnique().HasFilter("replay_of IS NULL");
    }
}

/// <summary>Lets <c>dotnet ef migrations add --context WebhooksDbContext</c> build the model without starting the service.</summary>
internal sealed class DesignTimeWebhooksDbContextFactory : IDesignTimeDbContextFactory<WebhooksDbContext>
{
    public WebhooksDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<WebhooksDbContext>();
        Configure(options);
        return new WebhooksDbContext(options.Options);

        static void Configure(DbContextOptionsBuilder options) =>
            WebhooksDbContext.Configure(options, "Host=127.0.0.1;Database=brokering_ordering;Username=postgres;Password=postgres");
    }
}
