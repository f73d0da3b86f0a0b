using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres.Tests.Support;

public sealed class CounterState : MassTransit.SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }
    public string CurrentState { get; set; } = "";
    public string? Name { get; set; }
    public int Count { get; set; }
    public Guid? ReminderTokenId { get; set; }
    public int RemindersReceived { get; set; }
    public int RemindersWanted { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>A row a consumer writes; its unique key on <see cref="EntryId"/> would catch a double effect.</summary>
public sealed class LedgerEntry
{
    public long Id { get; set; }
    public Guid EntryId { get; set; }
    public DateTimeOffset RecordedAt { get; set; }
}

/// <summary>An entity an "API handler" saves together with the event it publishes.</summary>
public sealed class Widget
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
}

/// <summary>Every event the test consumers received (one row per consumption that committed).</summary>
public sealed class Observation
{
    public long Id { get; set; }
    public string Kind { get; set; } = "";
    public Guid Key { get; set; }
    public int Value { get; set; }
    public Guid? MessageId { get; set; }
}

public sealed class TestDbContext(DbContextOptions<TestDbContext> options) : DbContext(options)
{
    public DbSet<CounterState> Counters => Set<CounterState>();
    public DbSet<EagerCounterState> EagerCounters => Set<EagerCounterState>();
    public DbSet<LedgerEntry> Ledger => Set<LedgerEntry>();
    public DbSet<Widget> Widgets => Set<Widget>();
    public DbSet<Observation> Observations => Set<Observation>();
    public DbSet<InboxState> Inbox => Set<InboxState>();
    public DbSet<OutboxMessage> OutboxMessages => Set<OutboxMessage>();
    public DbSet<OutboxState> OutboxStates => Set<OutboxState>();
    public DbSet<ScheduledMessageRecord> ScheduledMessages => Set<ScheduledMessageRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<CounterState>(saga =>
        {
            saga.ToTable("counter_state");
            saga.HasKey(x => x.CorrelationId);
            saga.Property(x => x.CorrelationId).HasColumnName("correlation_id");
            saga.Property(x => x.CurrentState).HasColumnName("current_state").HasMaxLength(64);
            saga.Property(x => x.Name).HasColumnName("name").HasMaxLength(100);
            saga.Property(x => x.Count).HasColumnName("count");
            saga.Property(x => x.ReminderTokenId).HasColumnName("reminder_token_id");
            saga.Property(x => x.RemindersReceived).HasColumnName("reminders_received");
            saga.Property(x => x.RemindersWanted).HasColumnName("reminders_wanted");
            saga.Property(x => x.CreatedAt).HasColumnName("created_at");
            saga.Property(x => x.UpdatedAt).HasColumnName("updated_at");
            saga.HasIndex(x => x.Name);
        });

        modelBuilder.Entity<EagerCounterState>(saga =>
        {
            saga.ToTable("eager_counter_state");
            saga.HasKey(x => x.CorrelationId);
            saga.Property(x => x.CorrelationId).HasColumnName("correlation_id");
            saga.Property(x => x.CurrentState).HasColumnName("current_state").HasMaxLength(64);
            saga.Property(x => x.Count).HasColumnName("count");
        });

        modelBuilder.Entity<LedgerEntry>(entry =>
        {
            entry.ToTable("ledger_entry");
            entry.Property(x => x.Id).HasColumnName("id");
            entry.Property(x => x.EntryId).HasColumnName("entry_id");
            entry.Property(x => x.RecordedAt).HasColumnName("recorded_at");
            entry.HasIndex(x => x.EntryId).IsUnique();
        });

        modelBuilder.Entity<Widget>(widget =>
        {
            widget.ToTable("widget");
            widget.Property(x => x.Id).HasColumnName("id");
            widget.Property(x => x.Name).HasColumnName("name");
        });

        modelBuilder.Entity<Observation>(observation =>
        {
            observation.ToTable("observation");
            observation.Property(x => x.Id).HasColumnName("id");
            observation.Property(x => x.Kind).HasColumnName("kind");
            observation.Property(x => x.Key).HasColumnName("key");
            observation.Property(x => x.Value).HasColumnName("value");
            observation.Property(x => x.MessageId).HasColumnName("message_id");
        });

        modelBuilder.AddTransactionalMessaging();
    }
}
