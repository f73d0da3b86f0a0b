using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Brokering.Webhooks;

/// <summary>
/// Where a service's deliveries come from, when they are made from a source of its own rather than recorded as events
/// arrive: called by the <see cref="WebhookDispatcher{TContext}"/> on every pass, before it sends what is due.
/// </summary>
public interface IWebhookFanOut
{
    /// <summary>Makes deliveries of every subscription's new events; true when there may be more at once.</summary>
    Task<bool> FanOutAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Sends a service's pending webhook deliveries (in its <typeparamref name="TContext"/>'s <c>webhook_deliveries</c>), on
/// every replica, after each pass of the service's <see cref="IWebhookFanOut"/> if it has one.
/// </summary>
/// <remarks>
/// <para>
/// <b>Durable from the database.</b> A delivery is a row, made in a transaction of the service's own (from its change
/// feed, or as an outbox event arrives), so a restart or a crash loses nothing: what was not yet accepted is sent again.
/// </para>
/// <para>
/// <b>Ordered per reservation.</b> A delivery is sent only when no earlier delivery of the same reservation to the same
/// subscription is still pending, so a later event of a reservation never overtakes an earlier one, even while the
/// earlier one is being retried; deliveries of different reservations go out side by side.
/// </para>
/// <para>
/// <b>At least once.</b> A delivery is claimed for a lease before it is sent and marked delivered after a 2xx; a replica
/// that dies mid-send leaves the claim to lapse and the delivery is sent again, under the same <c>webhook-id</c>.
/// No database transaction is held open across the HTTP call.
/// </para>
/// <para>
/// <b>Retried with back-off, paused after repeated failures.</b> A failed attempt is tried again after a wait that
/// doubles from <see cref="WebhookOptions.RetryBaseInterval"/> up to <see cref="WebhookOptions.RetryMaxInterval"/>;
/// <see cref="WebhookOptions.FailuresBeforePause"/> failures in a row pause the subscription until its tenant resumes it.
/// </para>
/// </remarks>
public sealed class WebhookDispatcher<TContext>(
    IServiceScopeFactory scopes,
    IHttpClientFactory http,
    IOptions<WebhookOptions> options,
    TimeProvider clock,
    IEnumerable<IWebhookFanOut> fanOuts,
    ILogger<WebhookDispatcher<TContext>> logger) : BackgroundService
    where TContext : DbContext
{
    // The oldest due deliveries whose reservation has nothing earlier still pending for the subscription, claimed for a
    // lease; SKIP LOCKED lets replicas claim side by side without waiting on each other.
    private const string ClaimDue = """
        WITH due AS (
            SELECT d.id
            FROM webhook_deliveries d
            JOIN webhook_subscriptions s ON s.id = d.subscription_id
            WHERE d.status = 'Pending' AND s.state = 'Active' AND d.next_attempt_at <= @now
              AND (d.claimed_until IS NULL OR d.claimed_until < @now)
              AND NOT EXISTS (
                  SELECT 1 FROM webhook_deliveries e
                  WHERE e.subscription_id = d.subscription_id AND e.reservation_id = d.reservation_id
                    AND e.status = 'Pending' AND e.sequence < d.sequence)
            ORDER BY d.next_attempt_at, d.sequence
            LIMIT @batch
            FOR UPDATE OF d SKIP LOCKED)
        UPDATE webhook_deliveries d SET claimed_until = @until
        FROM due, webhook_subscriptions s
        WHERE d.id = due.id AND s.id = d.subscription_id
        RETURNING d.id, d.subscription_id, d.event_id, d.body, d.attempts, s.url, s.secret
        """;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            try
            {
                foreach (var fanOut in fanOuts)
                {
                    busy |= await fanOut.FanOutAsync(stoppingToken);
                }

                busy |= await SendDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The database is away or the like: everything is still in its tables, so simply try again later.
                WebhookLog.PassFailed(logger, e);
            }

            if (!busy)
            {
                await Task.Delay(settings.PollInterval, clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Claims the deliveries due and sends them side by side; true when a full batch was claimed.</summary>
    private async Task<bool> SendDueAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        List<Claimed> claimed;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TContext>();
            var now = clock.GetUtcNow();
            claimed = [];
            await db.Database.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand(ClaimDue, (NpgsqlConnection)db.Database.GetDbConnection());
            command.Parameters.AddWithValue("now", now);
            command.Parameters.AddWithValue("until", now + settings.ClaimLease);
            command.Parameters.AddWithValue("batch", settings.ConcurrentDeliveries);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add(new Claimed(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4), reader.GetString(5), reader.GetString(6)));
            }
        }

        await Task.WhenAll(claimed.Select(delivery => SendAsync(delivery, cancellationToken)));
        return claimed.Count == settings.ConcurrentDeliveries;
    }

    private async Task SendAsync(Claimed delivery, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        int? status = null;
        string? error;
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
            {
                Content = new StringContent(delivery.Body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add(WebhookSignature.IdHeader, delivery.EventId);
            request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(delivery.Secret, delivery.EventId, timestamp, delivery.Body));
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("Brokering-Webhooks", "1"));

            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(settings.DeliveryTimeout);
            using var response = await http.CreateClient(WebhookDelivery.HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token);
            status = (int)response.StatusCode;
            error = response.IsSuccessStatusCode ? null : $"The endpoint answered {status} {response.ReasonPhrase}.";
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down mid-send: hand the delivery back untried; the receiver may have it, and will get it again.
            await ReleaseAsync(delivery.Id);
            throw;
        }
        catch (OperationCanceledException)
        {
            error = $"No answer within {settings.DeliveryTimeout.TotalSeconds:0.#} s.";
        }
        catch (HttpRequestException e)
        {
            error = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
        }

        await RecordAsync(delivery, status, error);
    }

    private async Task RecordAsync(Claimed delivery, int? status, string? error)
    {
        var settings = options.Value;
        var now = clock.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        // The subscription row first, then the delivery: the order a deletion of the subscription locks them in.
        await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
        if (error is null)
        {
            await db.Database.ExecuteSqlInterpolatedAsync($"UPDATE webhook_subscriptions SET consecutive_failures = 0 WHERE id = {delivery.SubscriptionId}");
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                UPDATE webhook_deliveries SET status = 'Delivered', attempts = attempts + 1, last_attempt_at = {now},
                    last_response_status = {status}, last_error = NULL, delivered_at = {now}, claimed_until = NULL
                WHERE id = {delivery.Id}
                """);
        }
        else
        {
            error = error.Length > 1000 ? error[..1000] : error;
            var next = now + Backoff(delivery.Attempts + 1);
            var pausedBecause = $"Paused after {settings.FailuresBeforePause} failed attempts in a row; the last: {error}";
            pausedBecause = pausedBecause.Length > 1000 ? pausedBecause[..1000] : pausedBecause;
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                UPDATE webhook_subscriptions SET
                    consecutive_failures = consecutive_failures + 1,
                    state = CASE WHEN consecutive_failures + 1 >= {settings.FailuresBeforePause} THEN 'Paused' ELSE state END,
                    paused_because = CASE WHEN state = 'Active' AND consecutive_failures + 1 >= {settings.FailuresBeforePause} THEN {pausedBecause} ELSE paused_because END,
                    paused_at = CASE WHEN state = 'Active' AND consecutive_failures + 1 >= {settings.FailuresBeforePause} THEN {now} ELSE paused_at END
                WHERE id = {delivery.SubscriptionId}
                """);
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = {now}, last_response_status = {status},
                    last_error = {error}, next_attempt_at = {next}, claimed_until = NULL
                WHERE id = {delivery.Id}
                """);
            WebhookLog.AttemptFailed(logger, delivery.Id, delivery.Attempts + 1, error);
        }

        await transaction.CommitAsync(CancellationToken.None);
    }

    private async Task ReleaseAsync(Guid deliveryId)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<TContext>().Database
                .ExecuteSqlInterpolatedAsync($"UPDATE webhook_deliveries SET claimed_until = NULL WHERE id = {deliveryId}");
        }
        catch (Exception e)
        {
            // The claim then lapses by itself after its lease.
            WebhookLog.ReleaseFailed(logger, e, deliveryId);
        }
    }

    /// <summary>The wait after the <paramref name="failures"/>th failed attempt: doubling from the base, capped, plus up to a tenth.</summary>
    internal TimeSpan Backoff(int failures)
    {
        var settings = options.Value;
        var exponential = settings.RetryBaseInterval * Math.Pow(2, Math.Min(failures - 1, 30));
        var wait = exponential < settings.RetryMaxInterval ? exponential : settings.RetryMaxInterval;
        return wait + (wait * (Random.Shared.NextDouble() / 10));
    }

    /// <summary>A delivery this replica has claimed, with what sending it needs.</summary>
    private sealed record Claimed(Guid Id, Guid SubscriptionId, string EventId, string Body, int Attempts, string Url, string Secret);
}

/// <summary>The dispatcher's log lines (generated: a generic class cannot hold them).</summary>
internal static partial class WebhookLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "A webhook pass failed; trying again shortly.")]
    public static partial void PassFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {DeliveryId} attempt {Attempt} failed: {Error}")]
    public static partial void AttemptFailed(ILogger logger, Guid deliveryId, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not hand back the claim on webhook delivery {DeliveryId}.")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception, Guid deliveryId);
}
