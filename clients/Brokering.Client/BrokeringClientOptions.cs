namespace Brokering.Client;

/// <summary>
/// Supplies the bearer token for one request. Called before every attempt, so a caller plugs in its identity
/// provider (and its own caching and refresh) here; return an empty string to send no token.
/// </summary>
/// <param name="cancellationToken">Cancelled when the request is.</param>
/// <returns>The access token, without the <c>Bearer</c> prefix.</returns>
public delegate ValueTask<string> TokenSource(CancellationToken cancellationToken);

/// <summary>How a client retries and how often it polls the change feed.</summary>
public sealed class BrokeringClientOptions
{
    /// <summary>
    /// Attempts for a request that is safe to send again (reads, a submission carrying its Idempotency-Key, a stock
    /// update carrying its sequence), including the first; for the gRPC change feed, connections in a row that break
    /// before delivering a page. Default 5.
    /// </summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>The wait before the first retry when the service gives no Retry-After; doubles each time. Default 200 ms.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait between two attempts, whatever Retry-After says. Default 30 s.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long one attempt may take before it counts as timed out (and, if safe, is retried). Default 30 s.
    /// Set the <see cref="HttpClient.Timeout"/> of the client passed in to at least this times <see cref="MaxAttempts"/>.
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the change feed waits before reading again after a page that brought nothing new. Default 1 s.</summary>
    public TimeSpan ChangePollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Changes asked for per read of the change feed, 1 to 1000. Default 100.</summary>
    public int ChangePageSize { get; init; } = 100;

    /// <summary>
    /// The wait before attempt <paramref name="attempt"/> + 1: what the service asked for (Retry-After) when it said,
    /// otherwise <see cref="RetryBaseDelay"/> doubled per attempt with ±20 % jitter, never above <see cref="RetryMaxDelay"/>.
    /// </summary>
    internal TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        var wait = retryAfter ?? RetryBaseDelay * Math.Pow(2, attempt - 1) * (0.8 + (Random.Shared.NextDouble() * 0.4));
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > RetryMaxDelay ? RetryMaxDelay : wait;
    }
}
