using MassTransit;

namespace Brokering.Messaging.Postgres;

/// <summary>Settings of <c>AddPostgresOutbox&lt;TDbContext&gt;</c>.</summary>
public sealed class PostgresOutboxConfigurator
{
    internal bool BusOutboxEnabled { get; private set; }

    internal bool DeliveryServiceEnabled { get; private set; } = true;

    internal bool InboxCleanupEnabled { get; private set; } = true;

    internal Action<IRetryConfigurator>? Retry { get; private set; }

    /// <summary>
    /// How long an inbox row is kept after its message was consumed and its outbox delivered: a redelivery within this
    /// window is recognised as a duplicate. Default 30 minutes.
    /// </summary>
    public TimeSpan DuplicateDetectionWindow { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How long the delivery service waits between polls when it has not been told of new outbox rows, and how often
    /// the inbox cleanup runs. Default 1 second (delivery) — the cleanup runs every <see cref="InboxCleanupInterval"/>.
    /// </summary>
    public TimeSpan QueryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the inbox cleanup service deletes expired inbox rows. Default 1 minute.</summary>
    public TimeSpan InboxCleanupInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many outboxes (delivery) or inbox rows (cleanup) one query takes. Default 100.</summary>
    public int QueryMessageLimit { get; set; } = 100;

    /// <summary>Timeout of one delivery or cleanup database round. Default 30 seconds.</summary>
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many messages of one outbox are relayed per transaction. Default 100.</summary>
    public int MessageDeliveryLimit { get; set; } = 100;

    /// <summary>Timeout of one broker send (including the publisher confirm). Default 10 seconds.</summary>
    public TimeSpan MessageDeliveryTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First back-off after the broker refused a relay; doubles up to <see cref="MaxRetryDelay"/>. Default 250 ms.</summary>
    public TimeSpan MinRetryDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest back-off between relay attempts while the broker is unreachable. Default 10 seconds.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A consumer's outbox is normally delivered by the consume pipeline right after its transaction commits. If that
    /// delivery never completed (the broker went away and the message ended in an error queue), the delivery service
    /// relays it once it is older than this. Default 2 minutes.
    /// </summary>
    public TimeSpan StrandedConsumerOutboxAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// When true (default), the consumer/saga outbox and inbox are configured on every receive endpoint configured by
    /// <c>ConfigureEndpoints</c>. Set false to opt endpoints in one by one with <c>UsePostgresOutbox&lt;TDbContext&gt;</c>.
    /// </summary>
    public bool ConfigureAllEndpoints { get; set; } = true;

    /// <summary>
    /// Receive endpoints, by name, left out of <see cref="ConfigureAllEndpoints"/>: their consumers are idempotent by
    /// keys of their own and send nothing, so a message costs them no inbox row and no transaction around it (an insert,
    /// an update and a commit fewer per message). The database-outage and retry policies still wrap them. A consumer
    /// there that published would publish straight to the broker, outside any transaction: keep such consumers out.
    /// </summary>
    public ISet<string> EndpointsWithoutInbox { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Number of immediate in-process retries when a saga's first event loses an insert race (unique violation).
    /// Default 5. Set 0 to leave retries entirely to the endpoint's own retry policy.
    /// </summary>
    public int InsertConflictRetryLimit { get; set; } = 5;

    /// <summary>
    /// Delays between the tries of a message whose handling failed because PostgreSQL could not be reached (connection
    /// refused or cut, the server shutting down or starting up, a timeout), on every endpoint. The message stays
    /// unacknowledged meanwhile, so a crash only redelivers it. Without this a message arriving during a database
    /// restart would go to the error queue at once, and with it the effect it carried (a saga's first event, a timer
    /// handed to the scheduler). Default: about five minutes in all. Empty: no such retry.
    /// </summary>
    public IReadOnlyList<TimeSpan> DatabaseOutageRetryIntervals { get; set; } =
    [
        .. new[] { 0.25, 0.5, 1, 2, 4, 8, 15 }.Select(TimeSpan.FromSeconds),
        .. Enumerable.Repeat(TimeSpan.FromSeconds(30), 9),
    ];

    /// <summary>
    /// Scoped <c>IPublishEndpoint</c>/<c>ISendEndpointProvider</c> resolved outside a consumer (API handlers) write to the
    /// DbContext's outbox; the messages are stored by the handler's own <c>SaveChanges</c>, in the same transaction as its
    /// entities, and relayed to the broker by the delivery service.
    /// </summary>
    public void UseBusOutbox() => BusOutboxEnabled = true;

    /// <summary>
    /// Message retry on every endpoint, placed <b>outside</b> the outbox transaction so that each attempt runs in a fresh
    /// scope, DbContext and transaction. Prefer this (or <c>endpointConfigurator.UseMessageRetry</c> in a definition) over
    /// <c>consumerConfigurator.UseMessageRetry</c>: a consumer-level retry runs inside the transaction and re-runs the
    /// consumer on a DbContext that still tracks the failed attempt's entities and outgoing messages.
    /// </summary>
    public void UseMessageRetry(Action<IRetryConfigurator> configure) => Retry = configure;

    /// <summary>Do not register the hosted service that relays the bus outbox (another process relays it).</summary>
    public void DisableDeliveryService() => DeliveryServiceEnabled = false;

    /// <summary>Do not register the hosted service that deletes expired inbox rows.</summary>
    public void DisableInboxCleanupService() => InboxCleanupEnabled = false;
}
