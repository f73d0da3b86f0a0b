namespace Brokering.Messaging.Postgres;

/// <summary>
/// Wakes the scheduler's delivery loop when this process stored a schedule it would otherwise find too late: one due
/// before the loop's next look. A timer set for minutes ahead (a cutoff, a fill deadline) wakes nothing; the loop
/// finds it at its next round, as it would find another replica's.
/// </summary>
public sealed class ScheduledMessageSignal : WakeUpSignal
{
    // Ticks of the instant the loop will look again unaided; 0 while it is not waiting (it is reading the table, and
    // any schedule stored meanwhile may have been missed by that read, so it must wake it).
    long _nextLookTicks;

    /// <summary>Signal that a schedule due at <paramref name="dueAt"/> (UTC) was committed.</summary>
    public void Notify(DateTime dueAt)
    {
        var nextLook = Interlocked.Read(ref _nextLookTicks);
        if (nextLook == 0 || dueAt.Ticks < nextLook)
            Notify();
    }

    /// <summary>The loop is reading the table: every schedule stored from now on wakes it again.</summary>
    internal void Awake() => Interlocked.Exchange(ref _nextLookTicks, 0);

    /// <summary>Waits until <paramref name="nextLook"/> (UTC) at most, or a schedule due earlier is stored.</summary>
    internal Task<bool> WaitUntilAsync(DateTime nextLook, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _nextLookTicks, nextLook.Ticks);
        return WaitAsync(timeout, cancellationToken);
    }
}
