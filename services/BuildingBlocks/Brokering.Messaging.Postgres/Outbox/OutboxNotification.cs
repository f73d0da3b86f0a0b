namespace Brokering.Messaging.Postgres;

/// <summary>Wakes the bus outbox delivery service when a bus outbox was committed in this process.</summary>
public sealed class OutboxNotification : WakeUpSignal;
