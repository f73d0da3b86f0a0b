using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Brokering.Ordering.Reservations.Changes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Brokering.Ordering.Webhooks;

/// <summary>
/// Turns each tenant's reservation changes into deliveries and sends them, on every replica.
/// </summary>
/// <remarks>
/// <para>
/// <b>Durable from the database.</b> Deliveries are made from the buyers' change feed (<see cref="ReservationChangeFeed"/>),
/// which the saga writes in each step's own transaction, through a cursor kept on each subscription: one transaction
/// inserts a page's deliveries and moves the cursor past it. A change committed is in the feed, a delivery made is a
/// row, so a restart (or a crash) between a change and its delivery loses nothing, and the feed's guarantee (no change
/// ever appears behind a cursor) means the cursor never passes a change it has not seen. The saga is untouched.
/// </para>
/// <para>
/// <b>Ordered per reservation.</b> A delivery is sent only when no earlier delivery of the same reservation to the same
/// subscription is still pending, so a later change of a reservation never overtakes an earlier one, even while the
/// earlier one is being retried; deliveries of different reservations go out side by side.
/// </para>
/// <para>
/// <b>At least once.</b> A delivery is claimed for a lease before it is sent and marked delivered after a 2xx; a replica
/// that dies mid-send leaves the claim to lapse and the delivery is sent again, under the same <c>webhook-id</c>.
/// No database transaction is held open across the HTTP call.
/// </para>
/// </remarks>
public sealed partial class WebhookDispatcher(
    IServiceScopeFactory scopes,
    IHttpClientFactory http,
    IOptions<WebhookOptions> options,
    TimeProvider clock,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    /// <summary>The named HTTP client deliveries are sent with (no redirects, the address guard on every connection).</summary>
    public const string HttpClientName = "webhooks";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

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
                busy |= await FanOutAsync(stoppingToken);
                busy |= await SendDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The database is away or the like: everything is still in its tables, so simply try again later.
                LogPassFailed(e);
            }

            if (!busy)
            {
                await Task.Delay(settings.PollInterval, clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Makes deliveries of every subscription's new changes; true when there may be more at once.</summary>
    private async Task<bool> FanOutAsync(CancellationToken cancellationToken)
    {
        // Only the subscriptions with a final change past their position, found in one statement: an idle replica
        // then costs one read per pass, not a locking transaction per subscription.
        List<Guid> subscriptions;
        await using (var scope = scopes.CreateAsyncScope())
        {
            subscriptions = await scope.ServiceProvider.GetRequiredService<WebhooksDbContext>().Database
                .SqlQuery<Guid>($"""
                    SELECT s.id AS "Value"
                    FROM webhook_subscriptions s
                    WHERE EXISTS (
                        SELECT 1 FROM reservation_changes c
                        WHERE c.buyer_id = s.tenant_id
                          AND (c.transaction_order, c.position) > (CAST(s.feed_transaction_order::text AS xid8), s.feed_position)
                          AND c.transaction_order < pg_snapshot_xmin(pg_current_snapshot()))
                    """)
                .ToListAsync(cancellationToken);
        }

        var more = false;
        foreach (var id in subscriptions)
        {
            more |= await FanOutAsync(id, cancellationToken);
        }

        return more;
    }

    private async Task<bool> FanOutAsync(Guid subscriptionId, CancellationToken cancellationToken)
    {
        var batch = options.Value.FanOutBatch;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<WebhooksDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        // Another replica on the same subscription: leave it to that one.
        var subscription = await db.Subscriptions
            .FromSql($"SELECT * FROM webhook_subscriptions WHERE id = {subscriptionId} FOR UPDATE SKIP LOCKED")
            .SingleOrDefaultAsync(cancellationToken);
        if (subscription is null)
        {
            return false;
        }

        var after = new ChangeCursor((ulong)subscription.FeedTransactionOrder, subscription.FeedPosition);
        var page = await scope.ServiceProvider.GetRequiredService<ReservationChangeFeed>()
            .ReadAsync(subscription.TenantId, after, batch, cancellationToken);
        if (page.Changes.Count == 0)
        {
            return false;
        }

        var now = clock.GetUtcNow();
        var wanted = page.Changes.Where(change => Wants(subscription, change)).ToList();
        if (wanted.Count > 0)
        {
            // One statement, rows in feed order: the sequence that orders a reservation's deliveries is taken in that
            // order (EF would batch the inserts in an order of its own).
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO webhook_deliveries (id, subscription_id, tenant_id, event_id, event_type, reservation_id,
                                                change_position, body, status, attempts, next_attempt_at, created_at)
                SELECT u.id, {subscription.Id}, {subscription.TenantId}, u.event_id, {WebhookEventTypes.ReservationStatusChanged},
                       u.reservation_id, u.change_position, u.body, 'Pending', 0, {now}, {now}
                FROM unnest({wanted.Select(_ => Guid.CreateVersion7()).ToArray()}, {wanted.Select(c => "chg_" + c.Cursor).ToArray()},
                            {wanted.Select(c => c.ReservationId).ToArray()}, {wanted.Select(PositionOf).ToArray()},
                            {wanted.Select(BodyOf).ToArray()})
                     WITH ORDINALITY AS u(id, event_id, reservation_id, change_position, body, n)
                ORDER BY u.n
                """, cancellationToken);
        }

        subscription.FeedTransactionOrder = checked((long)page.NextCursor.TransactionOrder);
        subscription.FeedPosition = page.NextCursor.Position;
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return page.Changes.Count == batch;
    }

    private static long PositionOf(ChangeView change) =>
        ChangeCursor.TryParse(change.Cursor, out var cursor) ? cursor.Position : throw new InvalidOperationException("The feed handed out a cursor it cannot read.");

    private static string BodyOf(ChangeView change) => JsonSerializer.Serialize(
        new StatusChangedEvent(WebhookEventTypes.ReservationStatusChanged, change.At,
            new StatusChangedData(change.ReservationId, change.From, change.To, change.Event, change.Reason, change.At, change.Cursor)),
        Json);

    private static bool Wants(WebhookSubscription subscription, ChangeView change) =>
        subscription.EventTypes.Contains(WebhookEventTypes.ReservationStatusChanged)
        && (subscription.Statuses.Count == 0 || subscription.Statuses.Contains(change.To));

    /// <summary>Claims the deliveries due and sends them side by side; true when a full batch was claimed.</summary>
    private async Task<bool> SendDueAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        List<Claimed> claimed;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<WebhooksDbContext>();
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
            using var response = await http.CreateClient(HttpClientName)
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
        var db = scope.ServiceProvider.GetRequiredService<WebhooksDbContext>();
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
            LogAttemptFailed(delivery.Id, delivery.Attempts + 1, error);
        }

        await transaction.CommitAsync(CancellationToken.None);
    }

    private async Task ReleaseAsync(Guid deliveryId)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<WebhooksDbContext>().Database
                .ExecuteSqlInterpolatedAsync($"UPDATE webhook_deliveries SET claimed_until = NULL WHERE id = {deliveryId}");
        }
        catch (Exception e)
        {
            // The claim then lapses by itself after its lease.
            LogReleaseFailed(e, deliveryId);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "A webhook pass failed; trying again shortly.")]
    private partial void LogPassFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {DeliveryId} attempt {Attempt} failed: {Error}")]
    private partial void LogAttemptFailed(Guid deliveryId, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not hand back the claim on webhook delivery {DeliveryId}.")]
    private partial void LogReleaseFailed(Exception exception, Guid deliveryId);
}
