using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres.Bench;

/// <summary>Adds one to a bench counter.</summary>
public record BenchIncrement(Guid CounterId);

/// <summary>A fact an API handler publishes through the bus outbox.</summary>
public record BenchFact(Guid Id, int Sequence);

public sealed class BenchCounter : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }
    public string CurrentState { get; set; } = "";
    public int Count { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class BenchCounterStateMachine : MassTransitStateMachine<BenchCounter>
{
    public BenchCounterStateMachine()
    {
        InstanceState(x => x.CurrentState);
        Event(() => Incremented, e => e.CorrelateById(x => x.Message.CounterId));

        Initially(When(Incremented).Then(Count).TransitionTo(Counting));
        During(Counting, When(Incremented).Then(Count));
    }

    public State Counting { get; private set; } = null!;
    public Event<BenchIncrement> Incremented { get; private set; } = null!;

    static void Count(BehaviorContext<BenchCounter, BenchIncrement> context)
    {
        context.Saga.Count++;
        context.Saga.UpdatedAt = DateTimeOffset.UtcNow;
    }
}

public sealed class BenchCounterDefinition : SagaDefinition<BenchCounter>
{
    public BenchCounterDefinition()
    {
        EndpointName = "bench-counter";
        ConcurrentMessageLimit = 32;
    }

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<BenchCounter> sagaConfigurator,
        IRegistrationContext context)
    {
        if (endpointConfigurator is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = 64;
    }
}

public sealed class BenchDbContext(DbContextOptions<BenchDbContext> options) : DbContext(options)
{
    public DbSet<BenchCounter> Counters => Set<BenchCounter>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<BenchCounter>(saga =>
        {
            saga.ToTable("bench_counter");
            saga.HasKey(x => x.CorrelationId);
            saga.Property(x => x.CorrelationId).HasColumnName("correlation_id");
            saga.Property(x => x.CurrentState).HasColumnName("current_state").HasMaxLength(64);
            saga.Property(x => x.Count).HasColumnName("count");
            saga.Property(x => x.UpdatedAt).HasColumnName("updated_at");
        });

        modelBuilder.AddTransactionalMessaging();
    }
}
