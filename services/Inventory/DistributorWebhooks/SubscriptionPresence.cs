using Brokering.Webhooks;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Inventory.DistributorWebhooks;

/// <summary>
/// Whether any distributor has a webhook subscription, asked of the database at most once per
/// <see cref="Staleness"/> per replica. The recorder's queue receives the events only while some subscription exists
/// (<see cref="DistributorWebhookBindings"/>), but those queued when the last one is deleted still arrive, and asking for
/// each of them would cost a transaction per event.
/// </summary>
/// <remarks>
/// Remembering "none" could miss the events of a subscription made meanwhile on another replica, so the create answer
/// waits <see cref="Staleness"/> (<see cref="WebhookSubscriptionsApiDefinition{TContext, TRequest, TView, TCreated, TList}.TakesEffectWithin"/>):
/// by then every replica has asked again, and every event recorded after the answer reaches the subscription.
/// Remembering "some" costs only a read of the ledger that records nothing once the last one is deleted.
/// </remarks>
public sealed class SubscriptionPresence(TimeProvider clock)
{
    /// <summary>How long an answer is reused.</summary>
    public static readonly TimeSpan Staleness = TimeSpan.FromSeconds(1);

    private Answer? last;

    /// <summary>Whether any subscription exists, as of at most <see cref="Staleness"/> ago.</summary>
    public async ValueTask<bool> AnyAsync(DbContext db, CancellationToken cancellationToken)
    {
        var now = clock.GetTimestamp();
        if (Volatile.Read(ref last) is { } known && clock.GetElapsedTime(known.AskedAt, now) < Staleness)
        {
            return known.Any;
        }

        // Taken before the question: an answer is never deemed fresher than the moment it was asked.
        var any = await db.Set<WebhookSubscription>().AnyAsync(cancellationToken);
        Volatile.Write(ref last, new Answer(any, now));
        return any;
    }

    private sealed record Answer(bool Any, long AskedAt);
}
