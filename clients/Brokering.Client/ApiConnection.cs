using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Brokering.Client;

/// <summary>When a request may be sent again after an attempt that failed.</summary>
internal enum RetrySafety
{
    /// <summary>
    /// Sending it twice has the effect of sending it once (a read, a submission with its idempotency key, a stock
    /// update with its sequence): retried after a timeout, a lost connection, a 5xx, a 429, or a 409 that says an
    /// earlier attempt with the same key is still being handled (over gRPC: UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL,
    /// UNKNOWN, RESOURCE_EXHAUSTED, and ABORTED for the key in flight).
    /// </summary>
    Idempotent,

    /// <summary>
    /// Only retried after a 429 (over gRPC, RESOURCE_EXHAUSTED), which the service answers before the request reaches
    /// its handler.
    /// </summary>
    OnlyIfRefusedUnread,
}

/// <summary>Sends a request with a fresh token per attempt, retries what is safe to retry, and turns refusals into <see cref="BrokeringApiException"/>.</summary>
internal sealed class ApiConnection(HttpClient http, TokenSource tokens, BrokeringClientOptions options)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public BrokeringClientOptions Options => options;

    public async Task<T> SendAsync<T>(
        Func<HttpRequestMessage> request, RetrySafety safety, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(request, safety, cancellationToken);
        return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken)
            ?? throw new BrokeringApiException(response.StatusCode, null, "The service answered with an empty body.");
    }

    /// <summary>The first successful answer; the caller disposes it.</summary>
    public async Task<HttpResponseMessage> SendAsync(
        Func<HttpRequestMessage> request, RetrySafety safety, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var last = attempt >= Math.Max(1, options.MaxAttempts);
            using var message = request();
            var token = await tokens(cancellationToken);
            if (token.Length > 0)
            {
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            using var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attemptTimeout.CancelAfter(options.AttemptTimeout);
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, attemptTimeout.Token);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested
                && exception is HttpRequestException or OperationCanceledException
                && safety == RetrySafety.Idempotent && !last)
            {
                // The request may or may not have reached the service; only a request safe to repeat is sent again.
                await Task.Delay(options.Backoff(attempt, retryAfter: null), cancellationToken);
                continue;
            }

            if (response.IsSuccessStatusCode)
            {
                return response;
            }

            using (response)
            {
                if (!last && await RetriableAsync(response, safety, cancellationToken))
                {
                    await Task.Delay(options.Backoff(attempt, RetryAfterOf(response)), cancellationToken);
                    continue;
                }

                throw await RefusalAsync(response, cancellationToken);
            }
        }
    }

    private static async Task<bool> RetriableAsync(HttpResponseMessage response, RetrySafety safety, CancellationToken cancellationToken) =>
        response.StatusCode switch
        {
            HttpStatusCode.TooManyRequests => true,
            _ when safety != RetrySafety.Idempotent => false,
            >= HttpStatusCode.InternalServerError => true,
            HttpStatusCode.RequestTimeout => true,
            // An earlier attempt with the same Idempotency-Key is still being handled: its answer will be replayed.
            HttpStatusCode.Conflict => (await response.Content.ReadAsStringAsync(cancellationToken))
                .Contains("\"Request in flight.\"", StringComparison.Ordinal),
            _ => false,
        };

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow,
        _ => null,
    };

    private static async Task<BrokeringApiException> RefusalAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        Problem? problem = null;
        if (response.Content.Headers.ContentType?.MediaType is "application/problem+json" or "application/json" && body.Length > 0)
        {
            try
            {
                problem = JsonSerializer.Deserialize<Problem>(body, Json);
            }
            catch (JsonException)
            {
                // Not a problem document after all: the raw body goes into the message instead.
            }
        }

        return new BrokeringApiException(response.StatusCode, problem, body);
    }
}
