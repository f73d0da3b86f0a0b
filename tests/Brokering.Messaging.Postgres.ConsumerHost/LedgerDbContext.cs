using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres.ConsumerHost;

/// <summary>One row per recorded entry; the unique index on <see cref="EntryId"/> makes a double effect an error.</summary>
public sealed class LedgerEntry
{
    public long Id { get; set; }
    public Guid EntryId { get; set; }
}

/// <summary>One row per <see cref="EntryRecorded"/> event consumed (and committed) by the observer.</summary>
public sealed class EntryObservation
{
    public long Id { get; set; }
    public Guid EntryId { get; set; }
    public Guid? MessageId { get; set; }
}

/// <summary>The host's database: its two tables plus the messaging tables (inbox, outbox, schedules).</summary>
public sealed class LedgerDbContext(DbContextOptions<LedgerDbContext> options) : DbContext(options)
{
    public DbSet<LedgerEntry> Ledger => Set<LedgerEntry>();
    public DbSet<EntryObservation> Observations => Set<EntryObservation>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<LedgerEntry>(entry =>
        {
            entry.ToTable("ledger_entry");
            entry.Property(x => x.Id).HasColumnName("id");
            entry.Property(x => x.EntryId).HasColumnName("entry_id");
            entry.HasIndex(x => x.EntryId).IsUnique();
        });

        modelBuilder.Entity<EntryObservation>(observation =>
        {
            observation.ToTable("entry_observation");
            observation.Property(x => x.Id).HasColumnName("id");
            observation.Property(x => x.EntryId).HasColumnName("entry_id");
            observation.Property(x => x.MessageId).HasColumnName("message_id");
        });

        modelBuilder.AddTransactionalMessaging();
    }
}
