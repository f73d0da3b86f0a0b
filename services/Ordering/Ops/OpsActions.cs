using Brokering.Ordering.Data;
using Brokering.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Brokering.Ordering.Ops;

/// <summary>
/// One operator action on a reservation saga: who asked for what, why, and what the saga was doing
/// then. Written in the same transaction as the message that carries the action out (the bus outbox),
/// so there is no action without its audit and no audit without its action.
/// </summary>
public sealed class OpsAction
{
    public Guid Id { get; set; }
    public Guid ReservationId { get; set; }

    /// <summary><see cref="OpsActionKind"/> as text.</summary>
    public string Action { get; set; } = null!;

    /// <summary>What was done about it (e.g. a release of a live reservation's holds is carried out as a cancel).</summary>
    public string Effect { get; set; } = null!;

    public string Reason { get; set; } = null!;
    public string RequestedBy { get; set; } = null!;
    public DateTimeOffset RequestedAt { get; set; }

    /// <summary>The saga's state when the operator acted.</summary>
    public string StateAtRequest { get; set; } = null!;
}

/// <summary>What an operator can do to a saga.</summary>
public enum OpsActionKind
{
    Cancel,
    ReleaseHolds,
    Rescreen,
}

/// <summary>
/// The ops audit table <c>ops_actions</c>, in ordering's database but outside the saga: the saga's
/// history is shown to buyers, an operator's reasons (a suspected diversion, a compliance hunch) are not.
/// Ops keeps its own migrations (history table <c>__ops_migrations_history</c>) so its schema evolves
/// without touching the saga's.
/// </summary>
public sealed class OpsDbContext(DbContextOptions<OpsDbContext> options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__ops_migrations_history";

    public DbSet<OpsAction> Actions => Set<OpsAction>();

    /// <summary>Options on the service's database, with ops' own migrations history.</summary>
    public static void Configure(DbContextOptionsBuilder options, string connectionString) =>
        options.UseServiceDatabase(connectionString)
            .UseNpgsql(npgsql => npgsql.MigrationsHistoryTable(MigrationsHistoryTable));

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<OpsAction>(action =>
        {
            action.ToTable("ops_actions");
            action.HasKey(a => a.Id);
            action.Property(a => a.Action).HasMaxLength(40);
            action.Property(a => a.Effect).HasMaxLength(200);
            action.Property(a => a.Reason).HasMaxLength(OpsApi.MaxReasonLength);
            action.Property(a => a.RequestedBy).HasMaxLength(200);
            action.Property(a => a.StateAtRequest).HasMaxLength(40);
            action.HasIndex(a => new { a.ReservationId, a.RequestedAt });
        });
}

/// <summary>Lets <c>dotnet ef migrations add --context OpsDbContext</c> build the model without starting the service.</summary>
internal sealed class DesignTimeOpsDbContextFactory : IDesignTimeDbContextFactory<OpsDbContext>
{
    public OpsDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<OpsDbContext>();
        OpsDbContext.Configure(options, "Host=127.0.0.1;Database=brokering_ordering;Username=postgres;Password=postgres");
        return new OpsDbContext(options.Options);
    }
}

/// <summary>Writes and reads the ops audit.</summary>
public sealed class OpsActionLog(OrderingDbContext ordering, OpsDbContext ops)
{
    /// <summary>
    /// Records <paramref name="action"/> and runs <paramref name="effect"/> (which publishes through the
    /// bus outbox on ordering's DbContext) in one transaction of ordering's database.
    /// </summary>
    public async Task RecordAsync(OpsAction action, Func<Task> effect, CancellationToken cancellationToken)
    {
        await using var transaction = await ordering.Database.BeginTransactionAsync(cancellationToken);
        await ordering.Database.ExecuteSqlAsync($"""
            INSERT INTO ops_actions (id, reservation_id, action, effect, reason, requested_by, requested_at, state_at_request)
            VALUES ({action.Id}, {action.ReservationId}, {action.Action}, {action.Effect}, {action.Reason}, {action.RequestedBy},
                    {action.RequestedAt}, {action.StateAtRequest})
            """, cancellationToken);
        await effect();
        await ordering.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<OpsAction>> OfAsync(Guid reservationId, CancellationToken cancellationToken) =>
        await ops.Actions.AsNoTracking()
            .Where(a => a.ReservationId == reservationId)
            .OrderBy(a => a.RequestedAt)
            .ToListAsync(cancellationToken);
}
