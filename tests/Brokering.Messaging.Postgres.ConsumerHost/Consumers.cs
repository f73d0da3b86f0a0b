using MassTransit;

namespace Brokering.Messaging.Postgres.ConsumerHost;

/// <summary>Records the entry and publishes <see cref="EntryRecorded"/>; the outbox filter saves and commits both.</summary>
public sealed class RecordEntryConsumer(LedgerDbContext db) : IConsumer<RecordEntry>
{
    public Task Consume(ConsumeContext<RecordEntry> context)
    {
        ProcessReport.Write($"consuming {context.MessageId}");
        db.Ledger.Add(new LedgerEntry { EntryId = context.Message.EntryId });
        return context.Publish(new EntryRecorded(context.Message.EntryId));
    }
}

/// <summary>Records every <see cref="EntryRecorded"/> it consumes, so the test can count the event's effects.</summary>
public sealed class EntryRecordedConsumer(LedgerDbContext db) : IConsumer<EntryRecorded>
{
    public Task Consume(ConsumeContext<EntryRecorded> context)
    {
        db.Observations.Add(new EntryObservation { EntryId = context.Message.EntryId, MessageId = context.MessageId });
        return Task.CompletedTask;
    }
}

public sealed class RecordEntryConsumerDefinition : ConsumerDefinition<RecordEntryConsumer>
{
    public const string Queue = "ledger";

    public RecordEntryConsumerDefinition()
    {
        EndpointName = Queue;
    }
}

public sealed class EntryRecordedConsumerDefinition : ConsumerDefinition<EntryRecordedConsumer>
{
    public EntryRecordedConsumerDefinition()
    {
        EndpointName = "entry-observations";
    }
}
