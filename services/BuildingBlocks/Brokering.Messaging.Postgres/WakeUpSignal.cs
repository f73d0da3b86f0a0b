namespace Brokering.Messaging.Postgres;

/// <summary>
/// Wakes a polling delivery loop early when this process committed work for it; work committed by other
/// processes is still found by polling. Signals coalesce: many notifications before a wait wake it once.
/// </summary>
public abstract class WakeUpSignal : IDisposable
{
    readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Signal that new work was committed.</summary>
    public void Notify()
    {
        try
        {
            if (_signal.CurrentCount == 0)
                _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Another thread signalled between the check and the release: one wake-up is enough.
        }
        catch (ObjectDisposedException)
        {
            // Shutting down: nobody waits any more.
        }
    }

    /// <summary>Wait for a signal or the timeout, whichever comes first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        _signal.Dispose();
        GC.SuppressFinalize(this);
    }
}
