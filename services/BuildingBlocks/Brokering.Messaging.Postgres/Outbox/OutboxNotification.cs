namespace Brokering.Messaging.Postgres;

/// <summary>Wakes the delivery service when a bus outbox was committed in this process (other processes are found by polling).</summary>
public sealed class OutboxNotification : IDisposable
{
    readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Signal that new outbox rows were committed.</summary>
    public void Notify()
    {
        try
        {
            if (_signal.CurrentCount == 0)
                _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // already signalled
        }
        catch (ObjectDisposedException)
        {
            // shutting down
        }
    }

    /// <summary>Wait for a signal or the timeout, whichever comes first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _signal.Dispose();
}
