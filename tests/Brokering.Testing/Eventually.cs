namespace Brokering.Testing;

/// <summary>
/// Waits for something another thread, process or service does: asks a probe again and again until its answer
/// satisfies a condition. The one poll loop of the tests, the benchmarks and the fault suite.
/// </summary>
public static class Eventually
{
    /// <summary>
    /// Minutes, not seconds: the machine running the suite may be shared with parallel builds, and a slow pass is not
    /// a failure. A probe that succeeds returns at once, so patience costs nothing when all is well.
    /// </summary>
    public static readonly TimeSpan DefaultPatience = TimeSpan.FromMinutes(3);

    /// <summary>Short enough not to slow a test down, long enough not to hammer a database or an API.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Asks <paramref name="probe"/> until <paramref name="condition"/> holds for its answer and returns that answer;
    /// after <paramref name="timeout"/> fails with a <see cref="TimeoutException"/> naming <paramref name="what"/> and
    /// the last answer, followed by <paramref name="details"/> (e.g. the logs of the processes under test).
    /// <paramref name="clock"/> measures the patience and the pauses (the system clock by default).
    /// </summary>
    public static async Task<T> Until<T>(
        Func<Task<T>> probe,
        Func<T, bool> condition,
        TimeSpan? timeout = null,
        string? what = null,
        TimeSpan? interval = null,
        TimeProvider? clock = null,
        Func<string>? details = null,
        CancellationToken cancellationToken = default)
    {
        var patience = timeout ?? DefaultPatience;
        var (met, value) = await PollAsync(probe, condition, patience, interval, clock, cancellationToken);
        return met
            ? value
            : throw new TimeoutException($"Timed out after {patience} waiting for {what ?? "condition"}; last value: {value}"
                + (details is null ? "" : "\n" + details()));
    }

    /// <summary>Waits until <paramref name="condition"/> answers true; after <paramref name="timeout"/> fails naming <paramref name="what"/>.</summary>
    public static Task Until(
        Func<Task<bool>> condition,
        string what,
        TimeSpan? timeout = null,
        TimeSpan? interval = null,
        TimeProvider? clock = null,
        Func<string>? details = null,
        CancellationToken cancellationToken = default) =>
        Until(condition, met => met, timeout, what, interval, clock, details, cancellationToken);

    /// <summary>
    /// Asks <paramref name="probe"/> until <paramref name="condition"/> holds or <paramref name="timeout"/> passes, and
    /// returns the last answer either way: for a caller whose own assertion on the answer says more than a timeout.
    /// </summary>
    public static async Task<T> Latest<T>(
        Func<Task<T>> probe,
        Func<T, bool> condition,
        TimeSpan? timeout = null,
        TimeSpan? interval = null,
        TimeProvider? clock = null,
        CancellationToken cancellationToken = default) =>
        (await PollAsync(probe, condition, timeout ?? DefaultPatience, interval, clock, cancellationToken)).Value;

    /// <summary>
    /// Runs <paramref name="attempt"/> until it completes without an exception <paramref name="transient"/> accepts
    /// (a server still starting, a queue still recovering); one that comes after <paramref name="timeout"/> propagates
    /// as it is, and so does any other at once.
    /// </summary>
    public static async Task Succeeds(
        Func<Task> attempt,
        Func<Exception, bool> transient,
        TimeSpan? timeout = null,
        TimeSpan? interval = null,
        TimeProvider? clock = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        ArgumentNullException.ThrowIfNull(transient);
        clock ??= TimeProvider.System;
        var patience = timeout ?? DefaultPatience;
        var started = clock.GetTimestamp();
        while (true)
        {
            try
            {
                await attempt();
                return;
            }
            catch (Exception e) when (transient(e) && clock.GetElapsedTime(started) < patience)
            {
                // Not yet: try again after the pause.
            }

            await Task.Delay(interval ?? DefaultInterval, clock, cancellationToken);
        }
    }

    private static async Task<(bool Met, T Value)> PollAsync<T>(
        Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, TimeSpan? interval, TimeProvider? clock, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(condition);
        clock ??= TimeProvider.System;
        var started = clock.GetTimestamp();
        while (true)
        {
            var value = await probe();
            if (condition(value))
            {
                return (true, value);
            }

            if (clock.GetElapsedTime(started) > timeout)
            {
                return (false, value);
            }

            await Task.Delay(interval ?? DefaultInterval, clock, cancellationToken);
        }
    }
}
