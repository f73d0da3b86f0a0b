namespace Brokering.Messaging.Postgres;

/// <summary>Wakes the scheduler's delivery loop when this process stored a schedule.</summary>
public sealed class ScheduledMessageSignal : WakeUpSignal;
