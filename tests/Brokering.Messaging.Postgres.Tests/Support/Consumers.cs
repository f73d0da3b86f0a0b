using Brokering.Messaging.Postgres.Tests.Contracts;
using MassTransit;

namespace Brokering.Messaging.Postgres.Tests.Support;

/// <summary>Writes a ledger row and publishes an event; never calls SaveChanges (the outbox filter does).</summary>
public sealed class RecordEntryConsumer(TestDbContext db) : IConsumer<RecordEntry>
{
    public async Task Consume(ConsumeContext<RecordEntry> context)
    {
        db.Ledger.Add(new LedgerEntry { EntryId = context.Message.EntryId, RecordedAt = DateTimeOffset.UtcNow });
        await context.Publish(new SomethingHappened(context.Message.EntryId, 0));

        if (context.Message.FailFirstAttempt && context.GetRetryAttempt() == 0)
            throw new InvalidOperationException("first attempt fails after writing and publishing");
    }
}

/// <summary>Records every event it receives as an observation row (through the outbox, so once per MessageId).</summary>
public sealed class ObservationConsumer(TestDbContext db) : IConsumer<SomethingHappened>, IConsumer<CounterIncremented>
{
    public Task Consume(ConsumeContext<SomethingHappened> context)
    {
        db.Observations.Add(new Observation { Kind = "happened", Key = context.Message.Id, Value = context.Message.Sequence, MessageId = context.MessageId });
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<CounterIncremented> context)
    {
        db.Observations.Add(new Observation { Kind = "incremented", Key = context.Message.CounterId, Value = context.Message.Count, MessageId = context.MessageId });
        return Task.CompletedTask;
    }
}

public sealed class ObservationConsumerDefinition : ConsumerDefinition<ObservationConsumer>
{
    public const string Queue = "observations";

    public ObservationConsumerDefinition()
    {
        EndpointName = Queue;
    }
}

public sealed class RecordEntryConsumerDefinition : ConsumerDefinition<RecordEntryConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<RecordEntryConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(r => r.Immediate(3));
    }
}

/// <summary>
/// Writes a ledger row, but fails (after writing) while the message has been redelivered fewer than
/// <see cref="RecordEntryEventually.FailedDeliveries"/> times: each failure goes back to the scheduler.
/// </summary>
public sealed class RecordEntryEventuallyConsumer(TestDbContext db) : IConsumer<RecordEntryEventually>
{
    public Task Consume(ConsumeContext<RecordEntryEventually> context)
    {
        db.Ledger.Add(new LedgerEntry { EntryId = context.Message.EntryId, RecordedAt = DateTimeOffset.UtcNow });
        if (context.GetRedeliveryCount() < context.Message.FailedDeliveries)
            throw new InvalidOperationException($"delivery {context.GetRedeliveryCount()} fails after writing");

        return Task.CompletedTask;
    }
}

public sealed class RecordEntryEventuallyConsumerDefinition : ConsumerDefinition<RecordEntryEventuallyConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<RecordEntryEventuallyConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseScheduledRedelivery(r => r.Intervals(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300),
            TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300)));
    }
}
