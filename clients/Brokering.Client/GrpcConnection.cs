using System.Globalization;
using Grpc.Core;

namespace Brokering.Client;

/// <summary>
/// The gRPC side of <see cref="ApiConnection"/>: a fresh token per attempt, a deadline per attempt, retries of what is
/// safe to retry, and refusals turned into <see cref="BrokeringRpcException"/>.
/// </summary>
internal sealed class GrpcConnection(TokenSource tokens, BrokeringClientOptions options)
{
    public BrokeringClientOptions Options => options;

    /// <summary>The answer of the first attempt of a unary call that succeeds.</summary>
    /// <param name="call">Starts one attempt with the options given (headers, deadline, cancellation).</param>
    /// <param name="safety">Which failures may be followed by another attempt.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<TResponse> CallAsync<TResponse>(
        Func<CallOptions, AsyncUnaryCall<TResponse>> call, RetrySafety safety, CancellationToken cancellationToken) =>
        RetryAsync(async callOptions =>
        {
            using var unary = call(callOptions);
            return await unary.ResponseAsync;
        }, safety, cancellationToken);

    /// <summary>
    /// The answer of the first attempt that succeeds, whatever the call's shape (a client stream is written whole in
    /// each attempt): a fresh token and deadline per attempt, back-off between them, refusals as <see cref="BrokeringRpcException"/>.
    /// </summary>
    /// <param name="attempt">Makes one attempt with the options given (headers, deadline, cancellation).</param>
    /// <param name="safety">Which failures may be followed by another attempt.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<TResponse> RetryAsync<TResponse>(Func<CallOptions, Task<TResponse>> attempt, RetrySafety safety, CancellationToken cancellationToken)
    {
        for (var number = 1; ; number++)
        {
            var last = number >= Math.Max(1, options.MaxAttempts);
            var headers = await HeadersAsync(cancellationToken);
            try
            {
                return await attempt(new CallOptions(headers, DateTime.UtcNow + options.AttemptTimeout, cancellationToken));
            }
            catch (RpcException exception) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The call was cancelled.", exception, cancellationToken);
            }
            catch (RpcException exception) when (!last && Retriable(exception.StatusCode, safety))
            {
                await Task.Delay(options.Backoff(number, RetryAfterOf(exception)), cancellationToken);
            }
            catch (RpcException exception)
            {
                throw new BrokeringRpcException(exception);
            }
        }
    }

    /// <summary>The call's headers: the bearer token, asked for now (none when the source gives an empty one).</summary>
    public async Task<Metadata> HeadersAsync(CancellationToken cancellationToken)
    {
        var token = await tokens(cancellationToken);
        return token.Length > 0 ? new Metadata { { "Authorization", $"Bearer {token}" } } : [];
    }

    /// <summary>
    /// Whether a read that failed so may be made again: the service was unreachable, slow, overloaded, failed
    /// unexpectedly, or turned the caller away before reading the request. A read changes nothing, so any of these
    /// is worth another try; refusals of the request itself (invalid, not found, not allowed) are not.
    /// </summary>
    public static bool Retriable(StatusCode status, RetrySafety safety) => status switch
    {
        StatusCode.ResourceExhausted => true,
        _ when safety != RetrySafety.Idempotent => false,
        // ABORTED: an earlier attempt with the same idempotency key is still being handled; its answer will be replayed.
        StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted => true,
        _ => false,
    };

    /// <summary>The wait the service asked for: its rate limiter answers RESOURCE_EXHAUSTED with a Retry-After in seconds.</summary>
    public static TimeSpan? RetryAfterOf(RpcException exception) =>
        exception.Trailers.GetValue("retry-after") is { } value
        && int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : null;
}
