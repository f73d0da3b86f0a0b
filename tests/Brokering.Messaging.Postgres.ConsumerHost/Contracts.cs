namespace Brokering.Messaging.Postgres.ConsumerHost;

/// <summary>Asks the ledger consumer to record one entry; a second effect would violate the ledger's unique key.</summary>
/// <param name="EntryId">The entry, unique in the ledger.</param>
public record RecordEntry(Guid EntryId);

/// <summary>Published by the ledger consumer, through the outbox, for every entry it recorded.</summary>
/// <param name="EntryId">The recorded entry.</param>
public record EntryRecorded(Guid EntryId);
