namespace Brokering.Inventory;

/// <summary>Settings of the inventory service (section <c>Inventory</c>).</summary>
public sealed class InventoryOptions
{
    public const string Section = "Inventory";

    /// <summary>A distributor whose feed has not updated for this long is stale: its stock is neither offered nor held.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long a distributor's AMQP feed key read from the database is reused. A key replaced through a replica is
    /// dropped by that replica at once; the others use the old key until their copy is this old. Zero reads it for every message.
    /// </summary>
    public TimeSpan FeedKeyLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The largest AMQP stock update read at all (4 MiB, the REST and gRPC body limit): a bigger one is refused before
    /// its signature is checked or its JSON parsed, so an unsigned message cannot exhaust memory.
    /// </summary>
    public int FeedMaxBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// How far a signed AMQP update's <c>Feed-Signed-At</c> may lie from now, either way (clock skew, broker backlog).
    /// An older one is refused as stale: a captured message cannot be replayed after a sequence reset.
    /// </summary>
    public TimeSpan FeedSignatureMaxAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// After this many deliveries of one AMQP update (the quorum queue's <c>x-delivery-count</c>), it is moved to
    /// <c>stock-feed_error</c> instead of being tried again: a message that keeps failing its consumer cannot crash-loop it.
    /// </summary>
    public int FeedDeliveryLimit { get; set; } = 5;

    /// <summary>
    /// How often a replica looks for distributors whose feed key was set through another replica, to consume their own
    /// feed queues too (the replica that sets one consumes its queue at once). Until then that queue has fewer
    /// consumers, not none.
    /// </summary>
    public TimeSpan FeedQueueRescanInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long <c>PUT /v1/distributors/{id}/feed-key</c> waits for the feeds broker to declare the distributor's own
    /// feed queue before answering 503 (the key stays registered; the queue follows within the rescan interval).
    /// </summary>
    public TimeSpan FeedQueueDeclareTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long creating a distributor's webhook subscription waits to bind the recorder's <c>distributor-webhooks</c>
    /// queue to the events (and a replica's reconcile to bind or unbind it) before giving up: the create answers 503 and
    /// no subscription is made.
    /// </summary>
    public TimeSpan WebhookQueueBindTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often each replica makes the <c>distributor-webhooks</c> queue's bindings match the database (bound while any
    /// webhook subscription exists), besides at start and on every create and delete.
    /// </summary>
    public TimeSpan WebhookBindingsReconcileInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many distributors' own feed queues one replica applies updates from at once (one update per queue at a time).</summary>
    public int FeedQueueConcurrency { get; set; } = 4;

    /// <summary>
    /// Whether this replica expires lapsed holds. Every replica does by default, sharing the work (SKIP LOCKED). A replica
    /// attached to another broker virtual host than the rest must not: the HoldsExpired it publishes would go to that
    /// virtual host, where the saga and distributors of the others never hear of it.
    /// </summary>
    public bool SweepExpiredHolds { get; set; } = true;

    /// <summary>How often the expiry sweeper looks for holds that are due.</summary>
    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>At most this many holds are expired in one transaction.</summary>
    public int ExpirySweepBatchSize { get; set; } = 500;

    /// <summary>At most this many concurrent PlaceHolds calls share one transaction (group commit).</summary>
    public int MaxHoldBatch { get; set; } = 256;
}
