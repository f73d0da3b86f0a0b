using System.Globalization;
using System.Text.Json;
using Brokering.Ordering.Reservations.Changes;
using Brokering.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Brokering.Ordering.Webhooks;

/// <summary>
/// Turns each buyer's reservation changes into deliveries to its subscriptions, for the shared
/// <see cref="WebhookDispatcher{TContext}"/> to send.
/// </summary>
/// <remarks>
/// Deliveries are made from the buyers' change feed (<see cref="ReservationChangeFeed"/>), which the saga writes in each
/// step's own transaction, through a cursor kept on each subscription: one transaction inserts a page's deliveries and
/// moves the cursor past it. A change committed is in the feed, a delivery made is a row, so a restart (or a crash)
/// between a change and its delivery loses nothing, and the feed's guarantee (no change ever appears behind a cursor)
/// means the cursor never passes a change it has not seen. The saga is untouched.
/// </remarks>
public sealed class ReservationChangeFanOut(IServiceScopeFactory scopes, IOptions<WebhookOptions> options, TimeProvider clock) : IWebhookFanOut
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <inheritdoc />
    public async Task<bool> FanOutAsync(CancellationToken cancellationToken)
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

    /// <summary>
    /// Where a new subscription's deliveries start: the last change of the tenant's feed that is final (below the oldest
    /// write transaction still running; see <see cref="ReservationChangeFeed"/>). A change not yet final may still
    /// commit with a lower cursor, so it must come after the starting point, never before it.
    /// </summary>
    public static async Task<(long Order, long Position)> FeedHeadAsync(WebhooksDbContext db, string tenant, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT c.transaction_order::text, c.position
            FROM reservation_changes c
            WHERE c.buyer_id = @buyer AND c.transaction_order < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY c.transaction_order DESC, c.position DESC
            LIMIT 1
            """,
            (NpgsqlConnection)db.Database.GetDbConnection(),
            (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction());
        command.Parameters.AddWithValue("buyer", tenant);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (long.Parse(reader.GetString(0), CultureInfo.InvariantCulture), reader.GetInt64(1))
            : (0, 0);
    }
}
