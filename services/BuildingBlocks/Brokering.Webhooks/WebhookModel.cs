using Microsoft.EntityFrameworkCore;

namespace Brokering.Webhooks;

/// <summary>The webhook tables, <c>webhook_subscriptions</c> and <c>webhook_deliveries</c>, as each service's context maps them.</summary>
public static class WebhookModel
{
    /// <summary>Longest description a tenant may give a subscription.</summary>
    public const int MaxDescriptionLength = 200;

    /// <summary>
    /// Maps <see cref="WebhookSubscription"/> and <see cref="WebhookDelivery"/> with the indexes the log and the
    /// dispatcher read by. How a first delivery is kept unique (per feed position, per event id) is the service's own.
    /// </summary>
    public static ModelBuilder AddWebhookTables(this ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<WebhookSubscription>(subscription =>
        {
            subscription.ToTable("webhook_subscriptions");
            subscription.HasKey(s => s.Id);
            subscription.Property(s => s.TenantId).HasMaxLength(200);
            subscription.Property(s => s.Url).HasMaxLength(4096);
            subscription.Property(s => s.Description).HasMaxLength(MaxDescriptionLength);
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

            // The delivery log, newest first, and the per-reservation order check of the sender.
            delivery.HasIndex(d => new { d.SubscriptionId, d.Sequence });
            delivery.HasIndex(d => new { d.SubscriptionId, d.ReservationId, d.Sequence }).HasFilter("status = 'Pending'");

            // What the sender looks for: pending deliveries by when they fall due.
            delivery.HasIndex(d => d.NextAttemptAt).HasFilter("status = 'Pending'");
        });
        return modelBuilder;
    }
}
