using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Webhooks;

/// <summary>
/// A tenant's subscriptions and their delivery logs, in the service's <typeparamref name="TContext"/>. Every read and
/// action is scoped to the tenant: another tenant's subscription or delivery does not exist for it (null, which the
/// APIs answer 404).
/// </summary>
public sealed class WebhookDeliveryLog<TContext>(TContext db, IOptions<WebhookOptions> options, TimeProvider clock)
    where TContext : DbContext
{
    private DbSet<WebhookSubscription> Subscriptions => db.Set<WebhookSubscription>();

    private DbSet<WebhookDelivery> Deliveries => db.Set<WebhookDelivery>();

    /// <summary>The answers of <see cref="CreateAsync"/>.</summary>
    public abstract record Creation
    {
        public sealed record Created(WebhookSubscription Subscription) : Creation;

        public sealed record LimitReached(int Limit) : Creation;

        /// <summary>The starting point asked for is past the end of the tenant's feed: no cursor the feed handed out is.</summary>
        public sealed record StartAfterAhead : Creation;

        /// <summary>
        /// Not made: what the service needs in place before a subscription exists could not be set up in time
        /// (<see cref="WebhookSubscriptionsApiDefinition{TContext, TRequest, TView, TCreated, TList}.AroundCreate"/>); 503.
        /// </summary>
        /// <param name="Title">The problem's title.</param>
        /// <param name="Detail">What was not ready, and what the caller can do.</param>
        public sealed record Unavailable(string Title, string Detail) : Creation;
    }

    /// <summary>
    /// Stores a subscription with a new secret. <paramref name="startingPoint"/>, for a service whose deliveries come
    /// from a feed, gives the feed cursor its deliveries start after, read in the creation's transaction (the
    /// connection is open); without it the cursor is 0 and deliveries are those recorded from now on.
    /// </summary>
    public async Task<Creation> CreateAsync(
        string tenant, ValidSubscription request, CancellationToken cancellationToken,
        Func<TContext, string, CancellationToken, Task<(long Order, long Position)>>? startingPoint = null)
    {
        var limit = options.Value.MaxSubscriptionsPerTenant;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        // Two creations racing for the last place: the second waits for the first's count to commit.
        await db.Database.ExecuteSqlInterpolatedAsync($"SELECT pg_advisory_xact_lock(hashtextextended({"webhooks:" + tenant}, 0))", cancellationToken);
        if (await Subscriptions.CountAsync(s => s.TenantId == tenant, cancellationToken) >= limit)
        {
            return new Creation.LimitReached(limit);
        }

        var (order, position) = startingPoint is null ? (0, 0) : await startingPoint(db, tenant, cancellationToken);
        if (request.StartAfter is { } after && startingPoint is not null)
        {
            // Backfill: the changes after a cursor the tenant read up to, including those made before this subscription.
            // A cursor past the feed's final end was never handed out (and would skip changes still committing).
            if (after.Order > order || (after.Order == order && after.Position > position))
            {
                return new Creation.StartAfterAhead();
            }

            (order, position) = after;
        }

        var subscription = new WebhookSubscription
        {
            Id = Guid.CreateVersion7(),
            TenantId = tenant,
            Url = request.Url,
            EventTypes = [.. request.EventTypes],
            Statuses = [.. request.Statuses],
            Description = request.Description,
            Secret = WebhookSignature.NewSecret(),
            FeedTransactionOrder = order,
            FeedPosition = position,
            CreatedAt = clock.GetUtcNow(),
        };
        db.Add(subscription);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new Creation.Created(subscription);
    }

    public async Task<IReadOnlyList<WebhookSubscription>> ListAsync(string tenant, CancellationToken cancellationToken) =>
        await Subscriptions.AsNoTracking().Where(s => s.TenantId == tenant).OrderBy(s => s.CreatedAt).ThenBy(s => s.Id).ToListAsync(cancellationToken);

    public Task<WebhookSubscription?> GetAsync(string tenant, Guid id, CancellationToken cancellationToken) =>
        Subscriptions.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id && s.TenantId == tenant, cancellationToken);

    /// <summary>Deletes the subscription and its delivery log; false when the tenant has no such subscription.</summary>
    public async Task<bool> DeleteAsync(string tenant, Guid id, CancellationToken cancellationToken) =>
        await Subscriptions.Where(s => s.Id == id && s.TenantId == tenant).ExecuteDeleteAsync(cancellationToken) > 0;

    /// <summary>Stops sending; deliveries keep being made and wait, in order, for <see cref="ResumeAsync"/>.</summary>
    public async Task<WebhookSubscription?> PauseAsync(string tenant, Guid id, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await Subscriptions.Where(s => s.Id == id && s.TenantId == tenant && s.State == nameof(WebhookSubscriptionState.Active))
            .ExecuteUpdateAsync(set => set
                .SetProperty(s => s.State, nameof(WebhookSubscriptionState.Paused))
                .SetProperty(s => s.PausedBecause, "Paused by the tenant.")
                .SetProperty(s => s.PausedAt, now), cancellationToken);
        return await GetAsync(tenant, id, cancellationToken);
    }

    /// <summary>Sends again, from the oldest delivery still pending, at once; the failure count starts over.</summary>
    public async Task<WebhookSubscription?> ResumeAsync(string tenant, Guid id, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var resumed = await Subscriptions.Where(s => s.Id == id && s.TenantId == tenant && s.State == nameof(WebhookSubscriptionState.Paused))
            .ExecuteUpdateAsync(set => set
                .SetProperty(s => s.State, nameof(WebhookSubscriptionState.Active))
                .SetProperty(s => s.PausedBecause, (string?)null)
                .SetProperty(s => s.PausedAt, (DateTimeOffset?)null)
                .SetProperty(s => s.ConsecutiveFailures, 0), cancellationToken);
        if (resumed > 0)
        {
            await Deliveries.Where(d => d.SubscriptionId == id && d.Status == nameof(WebhookDeliveryStatus.Pending) && d.NextAttemptAt > now)
                .ExecuteUpdateAsync(set => set.SetProperty(d => d.NextAttemptAt, now), cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return await GetAsync(tenant, id, cancellationToken);
    }

    /// <summary>
    /// The subscription's deliveries, newest first, from just before <paramref name="before"/> (a page's next); null
    /// when the tenant has no such subscription.
    /// </summary>
    public async Task<DeliveryPage?> DeliveriesAsync(string tenant, Guid id, long? before, int limit, CancellationToken cancellationToken)
    {
        if (await GetAsync(tenant, id, cancellationToken) is null)
        {
            return null;
        }

        var query = Deliveries.AsNoTracking().Where(d => d.SubscriptionId == id && d.TenantId == tenant);
        if (before is { } sequence)
        {
            query = query.Where(d => d.Sequence < sequence);
        }

        var page = await query.OrderByDescending(d => d.Sequence).Take(limit + 1).ToListAsync(cancellationToken);
        var next = page.Count > limit ? page[limit - 1].Sequence.ToString(CultureInfo.InvariantCulture) : null;
        return new DeliveryPage([.. page.Take(limit).Select(DeliveryView.Of)], next);
    }

    /// <summary>
    /// Queues the delivery's event again, as a new delivery with the same event id and body, sent after anything of
    /// the same reservation still pending; null when the tenant has no such subscription or delivery.
    /// </summary>
    public async Task<WebhookDelivery?> ReplayAsync(string tenant, Guid id, Guid deliveryId, CancellationToken cancellationToken)
    {
        var original = await Deliveries.AsNoTracking()
            .SingleOrDefaultAsync(d => d.Id == deliveryId && d.SubscriptionId == id && d.TenantId == tenant, cancellationToken);
        if (original is null)
        {
            return null;
        }

        var now = clock.GetUtcNow();
        var replay = new WebhookDelivery
        {
            Id = Guid.CreateVersion7(),
            SubscriptionId = original.SubscriptionId,
            TenantId = original.TenantId,
            EventId = original.EventId,
            EventType = original.EventType,
            ReservationId = original.ReservationId,
            ChangePosition = original.ChangePosition,
            Body = original.Body,
            NextAttemptAt = now,
            ReplayOf = original.ReplayOf ?? original.Id,
            CreatedAt = now,
        };
        db.Add(replay);
        await db.SaveChangesAsync(cancellationToken);
        return replay;
    }
}
