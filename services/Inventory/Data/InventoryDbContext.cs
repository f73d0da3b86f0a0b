using Brokering.Messaging.Postgres;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Inventory.Data;

/// <summary>Inventory's database: distributors, stock levels, holds, and the bus outbox.</summary>
public sealed class InventoryDbContext(DbContextOptions<InventoryDbContext> options) : DbContext(options)
{
    /// <summary>The catalogue SKUs known when the service was first deployed.</summary>
    public static readonly IReadOnlyList<string> SeedSkus =
    [
        "NVIDIA-A100-SXM4-80GB", "NVIDIA-A800-SXM4-80GB", "NVIDIA-H100-SXM5-80GB", "NVIDIA-H100-PCIE-80GB",
        "NVIDIA-H800-SXM5-80GB", "NVIDIA-H20", "NVIDIA-L40S", "NVIDIA-L4", "NVIDIA-RTX-4090", "NVIDIA-RTX-4090D",
    ];

    public DbSet<Sku> Skus => Set<Sku>();

    public DbSet<Distributor> Distributors => Set<Distributor>();

    public DbSet<FeedGap> FeedGaps => Set<FeedGap>();

    public DbSet<StockLevel> StockLevels => Set<StockLevel>();

    public DbSet<Hold> Holds => Set<Hold>();

    public DbSet<HoldRequest> HoldRequests => Set<HoldRequest>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Sku>(sku =>
        {
            sku.ToTable("skus");
            sku.HasKey(s => s.Id);
            sku.Property(s => s.Id).HasColumnName("sku").HasMaxLength(64);
            sku.HasData(SeedSkus.Select(id => new Sku { Id = id }));
        });

        modelBuilder.Entity<Distributor>(distributor =>
        {
            distributor.ToTable("distributors");
            distributor.HasKey(d => d.Id);
            distributor.Property(d => d.Id).HasMaxLength(64);
            distributor.Property(d => d.Name).HasMaxLength(200);
            var seededAt = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
            distributor.HasData(
                new Distributor { Id = "arrow", Name = "Arrow Electronics", CreatedAt = seededAt },
                new Distributor { Id = "avnet", Name = "Avnet", CreatedAt = seededAt },
                new Distributor { Id = "wpg", Name = "WPG Holdings", CreatedAt = seededAt });
        });

        modelBuilder.Entity<FeedGap>(gap =>
        {
            gap.ToTable("feed_gaps");
            gap.HasKey(g => new { g.DistributorId, g.FromSequence });
            gap.HasOne<Distributor>().WithMany().HasForeignKey(g => g.DistributorId);
        });

        modelBuilder.Entity<StockLevel>(level =>
        {
            level.ToTable("stock_levels", table =>
            {
                table.HasCheckConstraint("ck_stock_levels_non_negative", "on_hand >= 0 AND held >= 0 AND committed >= 0");
            });
            level.HasKey(l => new { l.DistributorId, l.Sku, l.Warehouse });
            level.Property(l => l.Warehouse).HasMaxLength(64);
            level.Property(l => l.UnitPrice).HasPrecision(28, 9);
            level.Property(l => l.Currency).HasMaxLength(3);
            level.Property(l => l.MinimumOrderQuantity).HasDefaultValue(1L);
            level.HasOne<Distributor>().WithMany().HasForeignKey(l => l.DistributorId);
            level.HasOne<Sku>().WithMany().HasForeignKey(l => l.Sku);
            level.HasIndex(l => new { l.Sku, l.UnitPrice });
        });

        modelBuilder.Entity<Hold>(hold =>
        {
            hold.ToTable("holds");
            hold.HasKey(h => h.Id);
            hold.Property(h => h.Status).HasConversion<string>().HasMaxLength(16);
            hold.Property(h => h.UnitPrice).HasPrecision(28, 9);
            hold.Property(h => h.Currency).HasMaxLength(3);
            hold.Property(h => h.BuyerOrganisation).HasMaxLength(100);
            hold.HasIndex(h => h.ReservationId);
            hold.HasIndex(h => new { h.DistributorId, h.Sku, h.Warehouse, h.CreatedAt }).HasFilter("status = 'Active'");
            hold.HasIndex(h => h.ExpiresAt).HasFilter("status IN ('Active', 'Shortfall')");
            // A distributor's own holds (oldest first) and orders (committed holds by commit instant), read a page at a time.
            hold.HasIndex(h => new { h.DistributorId, h.CreatedAt, h.Id });
            hold.HasIndex(h => new { h.DistributorId, h.ClosedAt, h.ReservationId }).HasFilter("status = 'Committed'");
        });

        modelBuilder.Entity<HoldRequest>(request =>
        {
            request.ToTable("hold_requests");
            request.HasKey(r => new { r.ReservationId, r.PlanVersion });
            request.Property(r => r.Result).HasColumnType("jsonb");
        });

        modelBuilder.AddTransactionalMessaging();
    }
}
