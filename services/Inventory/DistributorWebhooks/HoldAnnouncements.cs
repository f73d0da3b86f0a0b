namespace Brokering.Inventory.DistributorWebhooks;

/// <summary>
/// Whether a change to holds is announced on the bus. HoldsPlaced, HoldsCommitted and HoldsReleased have one consumer,
/// the webhook recorder, and it records them only for distributors' webhook subscriptions; the saga learns every answer
/// from its own calls. So a transaction that places, commits or releases holds writes those events to its outbox only
/// while some subscription exists, as its own statements see the table: on a system nobody subscribes to (the usual
/// case) a hold costs no outbox rows, no relay and no broker message for an event the broker would drop. The notices
/// with a consumer of their own are always written: DistributorOrderPlaced and DistributorOrderRevoked (each
/// distributor's order queue) and HoldsExpired (the saga).
/// </summary>
/// <remarks>
/// <b>No event lost to a subscription being made.</b> Each such transaction takes <see cref="ShareLockSql"/> first and
/// reads the table in a later statement; a creation takes <see cref="ExclusiveLockSql"/> before it commits the
/// subscription and holds it until that commit. A creation therefore waits for the transactions that may have read no
/// subscription, and every transaction after it waits for the creation and then reads the table afresh (read committed:
/// a statement's snapshot is taken when it starts): every change committed after a subscription's creation answered is
/// announced. Shared holders never wait on each other, and creations are rare and short (the lock is taken after the
/// broker's bindings, only around the insert and its commit).
/// </remarks>
internal static class HoldAnnouncements
{
    /// <summary>The share lock as an expression, for a statement that does something else besides.</summary>
    public const string ShareLock = "pg_advisory_xact_lock_shared(hashtextextended('distributor-webhooks:subscriptions', 0))";

    /// <summary>Taken, shared, at the start of every transaction that places, commits or releases holds.</summary>
    public const string ShareLockSql = "SELECT " + ShareLock;

    /// <summary>Taken, exclusive, by a subscription's creation before it commits.</summary>
    public const string ExclusiveLockSql = "SELECT pg_advisory_xact_lock(hashtextextended('distributor-webhooks:subscriptions', 0))";

    /// <summary>True while some distributor has a webhook subscription (a condition, for a statement after the share lock).</summary>
    public const string SomeoneSubscribesSql = "EXISTS (SELECT 1 FROM webhook_subscriptions)";
}
