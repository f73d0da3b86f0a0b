using Brokering.ServiceDefaults;
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
        modelBuilder.Entity<WebhookSubscription>(subscription =>
        {
            subscription.ToTable("webhook_subscriptions");
            subscription.HasKey(s => s.Id);
            subscription.Property(s => s.TenantId).HasMaxLength(200);
            subscription.Property(s => s.Url).HasMaxLength(4096);
            subscription.Property(s => s.Description).HasMaxLength(WebhookRegistration.MaxDescriptionLength);
            subscription.Property(s => s.Secret).HasMaxLength(100);
            subscription.Property(s => s.State).HasMaxLength(20);
            subscription.Property(s => s.PausedBecause).HasMaxLength(1000);
            subscription.HasIndex(s => new { s.TenantId, s.CreatedAt });
        });

        modelBuilder.Entity<WebhookDelivery>(delivery =>
        {
            delivery.ToTable("webhook_deliveries");
            delivery.HasKey(d => d.Id);
            delivery.Property(d => d.Sequence).UseIdentityAlwaysColumn();
            delivery.Property(d => d.TenantId).HasMaxLength(200);
            delivery.Property(d => d.EventId).HasMaxLength(100);
            delivery.Property(d => d.EventType).HasMaxLength(100);
            delivery.Property(d => d.Status).HasMaxLength(20);
            delivery.Property(d => d.LastError).HasMaxLength(1000);
            delivery.HasOne<WebhookSubscription>().WithMany().HasForeignKey(d => d.SubscriptionId).OnDelete(DeleteBehavior.Cascade);

            // A change becomes one first delivery per subscription, however often a fan-out pass is repeated.
            delivery.HasIndex(d => new { d.SubscriptionId, d.ChangePosition }).IsUnique().HasFilter("replay_of IS NULL");

            // The delivery log, newest first, and the per-reservation order check of the sender.
            delivery.HasIndex(d => new { d.SubscriptionId, d.Sequence });
            delivery.HasIndex(d => new { d.SubscriptionId, d.ReservationId, d.Sequence }).HasFilter("status = 'Pending'");

            // What the sender looks for: pending deliveries by when they fall due.
            delivery.HasIndex(d => d.NextAttemptAt).HasFilter("status = 'Pending'");
        });
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
