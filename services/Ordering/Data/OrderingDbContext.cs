using Brokering.Messaging.Postgres;
using Brokering.Ordering.Activities;
using Brokering.Ordering.Idempotency;
using Brokering.Ordering.Reservations;
using Brokering.Ordering.Reservations.Changes;
using Brokering.Ordering.Saga;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Data;

/// <summary>Ordering's database: accepted reservations, their sagas, idempotency records, outbox, inbox and timers.</summary>
public sealed class OrderingDbContext(DbContextOptions<OrderingDbContext> options) : DbContext(options)
{
    public DbSet<Reservation> Reservations => Set<Reservation>();
    public DbSet<ReservationState> Sagas => Set<ReservationState>();
    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();
    public DbSet<BuyerSkuClaim> BuyerSkuClaims => Set<BuyerSkuClaim>();
    public DbSet<ReservationChange> ReservationChanges => Set<ReservationChange>();
    public DbSet<CancellationRequest> CancellationRequests => Set<CancellationRequest>();

    /// <summary>
    /// Saves, writing the reservation changes added since the last save first, as one statement
    /// (<see cref="ReservationChangeAppender"/>), in the same transaction as the rest: one is opened for the two when
    /// the caller has none, so a change is never stored without the save that made it.
    /// </summary>
    public override async Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        if (!ChangeTracker.Entries<ReservationChange>().Any(entry => entry.State == EntityState.Added))
        {
            return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
        }

        await using var owned = Database.CurrentTransaction is null ? await Database.BeginTransactionAsync(cancellationToken) : null;
        // In a transaction opened here a failed save fails it whole, so EF's savepoint around the save would be two
        // statements for nothing; a caller's transaction keeps its own setting.
        var savepoints = Database.AutoSavepointsEnabled;
        Database.AutoSavepointsEnabled = savepoints && owned is null;
        try
        {
            var written = await ReservationChangeAppender.AppendAsync(this, cancellationToken);
            written += await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
            if (owned is not null)
            {
                await owned.CommitAsync(cancellationToken);
            }

            return written;
        }
        finally
        {
            Database.AutoSavepointsEnabled = savepoints;
        }
    }

    /// <summary>Not used by ordering (every save is asynchronous): refused, so no change could bypass <see cref="ReservationChangeAppender"/>.</summary>
    public override int SaveChanges(bool acceptAllChangesOnSuccess) =>
        throw new NotSupportedException("Ordering saves asynchronously (SaveChangesAsync), which writes reservation changes as one statement.");

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Reservation>(reservation =>
        {
            reservation.ToTable("reservations");
            reservation.HasKey(r => r.Id);
            reservation.Property(r => r.BuyerId).HasMaxLength(100);
            reservation.Property(r => r.BuyerReference).HasMaxLength(200);
            reservation.Property(r => r.EndUserName).HasMaxLength(300);
            reservation.Property(r => r.EndUserCountry).HasMaxLength(2);
            reservation.Property(r => r.DestinationCountry).HasMaxLength(2);
            reservation.Property(r => r.FillPolicy).HasConversion<string>().HasMaxLength(20);
            reservation.Property(r => r.Confirmation).HasConversion<string>().HasMaxLength(20);
            reservation.Property(r => r.Lines).HasJsonConversion();
            // The buyer's list: its keyset (newest first, then id) and the lookup by the buyer's own reference.
            reservation.HasIndex(r => new { r.BuyerId, r.SubmittedAt, r.Id });
            reservation.HasIndex(r => new { r.BuyerId, r.BuyerReference });
        });

        modelBuilder.Entity<ReservationState>(saga =>
        {
            saga.ToTable("reservation_sagas");
            saga.HasKey(s => s.CorrelationId);
            saga.Property(s => s.CorrelationId).HasColumnName("reservation_id");
            saga.Property(s => s.CurrentState).HasMaxLength(40);
            saga.Property(s => s.BuyerId).HasMaxLength(100);
            saga.Property(s => s.DestinationCountry).HasMaxLength(2);
            saga.Property(s => s.FillPolicy).HasConversion<string>().HasMaxLength(20);
            saga.Property(s => s.Confirmation).HasConversion<string>().HasMaxLength(20);
            saga.Property(s => s.DecisionId).HasMaxLength(100);
            saga.Property(s => s.Lines).HasJsonConversion();
            saga.Property(s => s.Allocations).HasJsonConversion();
            saga.Property(s => s.History).HasJsonConversion();
            saga.Ignore(s => s.UnitsRequested);
            saga.Ignore(s => s.UnitsAllocated);
            saga.HasIndex(s => s.CurrentState);
            saga.HasIndex(s => s.Cutoff);
            // The buyer's reservations in given states (the per-buyer cap's live holds) without visiting its history.
            saga.HasIndex(s => new { s.BuyerId, s.CurrentState });
        });

        modelBuilder.Entity<IdempotencyRecord>(record =>
        {
            record.ToTable("idempotency_records");
            record.HasKey(r => new { r.BuyerId, r.Key, r.Endpoint });
            record.Property(r => r.Key).HasMaxLength(200);
            record.Property(r => r.BuyerId).HasMaxLength(100);
            record.Property(r => r.Endpoint).HasMaxLength(200);
            record.Property(r => r.RequestHash).HasMaxLength(64);
            record.HasIndex(r => r.ExpiresAt);
        });

        modelBuilder.Entity<BuyerSkuClaim>(claim =>
        {
            claim.ToTable("buyer_sku_claims");
            claim.HasKey(c => new { c.ReservationId, c.Sku });
            claim.Property(c => c.Sku).HasMaxLength(100);
            claim.Property(c => c.BuyerId).HasMaxLength(100);
            claim.HasIndex(c => new { c.BuyerId, c.Sku });
        });

        // transaction_order (xid8), its insert trigger (for rows not written by ReservationChangeAppender) and the feed's
        // index are created by the ReservationChanges migration in SQL: EF maps none of them (see ReservationChangeFeed).
        modelBuilder.Entity<ReservationChange>(change =>
        {
            change.ToTable("reservation_changes");
            change.HasKey(c => c.Position);
            change.Property(c => c.Position).UseIdentityAlwaysColumn();
            change.Property(c => c.BuyerId).HasMaxLength(100);
            change.Property(c => c.From).HasColumnName("from_status").HasMaxLength(40);
            change.Property(c => c.To).HasColumnName("to_status").HasMaxLength(40);
            change.Property(c => c.Event).HasMaxLength(100);
            change.HasIndex(c => new { c.ReservationId, c.Position });
        });

        modelBuilder.Entity<CancellationRequest>(request =>
        {
            request.ToTable("cancellation_requests");
            request.HasKey(r => r.ReservationId);
        });

        modelBuilder.AddTransactionalMessaging();
    }
}
