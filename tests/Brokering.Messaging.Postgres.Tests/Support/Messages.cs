namespace Brokering.Messaging.Postgres.Tests.Contracts;

/// <summary>Adds one to a counter saga (creates it on the first).</summary>
public record Increment(Guid CounterId, string? Name = null);

/// <summary>Adds one to an insert-on-initial counter saga (creates it on the first).</summary>
public record EagerIncrement(Guid CounterId);

/// <summary>Adds one to the counter saga with this name (correlated by expression).</summary>
public record IncrementByName(string Name);

/// <summary>
/// Schedules the counter's reminder after a delay; with <paramref name="Repeats"/>, each reminder received schedules the
/// next (from inside the consume of a scheduled message) until that many more have come.
/// </summary>
public record ArmReminder(Guid CounterId, int DelayMilliseconds, int Repeats = 0);

/// <summary>Cancels the counter's reminder.</summary>
public record DisarmReminder(Guid CounterId);

/// <summary>The scheduled reminder.</summary>
public record CounterReminder(Guid CounterId);

/// <summary>Finalises the counter (deleted when the machine completes finalized instances).</summary>
public record FinishCounter(Guid CounterId);

/// <summary>Published by the counter saga each time it counts.</summary>
public record CounterIncremented(Guid CounterId, int Count);

/// <summary>A fact written by an "API handler" through the bus outbox.</summary>
public record SomethingHappened(Guid Id, int Sequence);

/// <summary>A command to a plain consumer that writes a ledger row.</summary>
public record RecordEntry(Guid EntryId, bool FailFirstAttempt = false);

/// <summary>A command to a consumer whose first <paramref name="FailedDeliveries"/> deliveries fail and are redelivered through the scheduler.</summary>
public record RecordEntryEventually(Guid EntryId, int FailedDeliveries);
