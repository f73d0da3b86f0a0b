using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>
/// How an activity calls another service. A consumer of a step's command calls under the service's resilience
/// pipeline (retries, circuit breaker), and its message is redelivered if that fails. The saga, taking a step at once
/// inside its own transaction, calls once within a short deadline and falls back to the command when that fails.
/// </summary>
public sealed class CallMode
{
    private readonly TimeSpan? once;

    private CallMode(TimeSpan? once) => this.once = once;

    /// <summary>Under the service's pipeline, each try within its own per-call deadline.</summary>
    public static CallMode Retrying { get; } = new(null);

    /// <summary>One try, within <paramref name="deadline"/>.</summary>
    public static CallMode Once(TimeSpan deadline) => new(deadline);

    /// <summary>Makes the call: <paramref name="invoke"/> is given the deadline of this try and the token.</summary>
    public async Task<T> CallAsync<T>(
        ResiliencePipelineProvider<string> pipelines, string service, TimeSpan perTry,
        Func<DateTime, CancellationToken, Task<T>> invoke, CancellationToken cancellationToken) =>
        once is { } deadline
            ? await invoke(DateTime.UtcNow.Add(deadline), cancellationToken)
            : await pipelines.GetPipeline(service).ExecuteAsync(async token => await invoke(DateTime.UtcNow.Add(perTry), token), cancellationToken);
}
