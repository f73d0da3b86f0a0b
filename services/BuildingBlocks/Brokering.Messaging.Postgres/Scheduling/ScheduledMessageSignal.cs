namespace Brokering.Messaging.Postgres;

/// <summary>Wakes the scheduler's delivery loop when this process stored a schedule.</summary>
public sealed class ScheduledMessageSignal : IDisposable
{
    readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Signal that a schedule was stored.</summary>
    public void Notify()
    {
        try
        {
            if (_signal.CurrentCount == 0)
                _signal.Release();
        }
        catch (SemaphoreFullException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Wait for a signal or the timeout.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _signal.Dispose();
}
