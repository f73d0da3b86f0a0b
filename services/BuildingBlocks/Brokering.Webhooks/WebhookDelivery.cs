namespace Brokering.Webhooks;

/// <summary>
/// One event to send to one subscription's endpoint, with the outcome of its attempts so far: the tenant's delivery
/// log. Its body is fixed when it is made, so every attempt sends the same bytes under the same event id.
/// </summary>
public sealed class WebhookDelivery
{
    /// <summary>The named HTTP client deliveries are sent with (no redirects, the address guard on every connection).</summary>
    public const string HttpClientName = "webhooks";

    public Guid Id { get; set; }
    public Guid SubscriptionId { get; set; }
    public string TenantId { get; set; } = null!;

    /// <summary>From a sequence at insert: the order deliveries of one reservation must be sent in.</summary>
    public long Sequence { get; set; }

    /// <summary>
    /// The <c>webhook-id</c>: the same on every attempt and on a replay, so a receiver can drop duplicates. For a status
    /// change in ordering it is <c>chg_</c> and the change's cursor in the buyer's change feed.
    /// </summary>
    public string EventId { get; set; } = null!;

    public string EventType { get; set; } = null!;
    public Guid ReservationId { get; set; }

    /// <summary>The feed position of the change it carries, for a service whose deliveries come from a feed; 0 otherwise.</summary>
    public long ChangePosition { get; set; }

    /// <summary>The JSON sent as the request body.</summary>
    public string Body { get; set; } = null!;

    /// <summary><see cref="WebhookDeliveryStatus"/> as text.</summary>
    public string Status { get; set; } = nameof(WebhookDeliveryStatus.Pending);

    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }

    /// <summary>Until when a replica that is sending it has it to itself.</summary>
    public DateTimeOffset? ClaimedUntil { get; set; }

    public DateTimeOffset? LastAttemptAt { get; set; }

    /// <summary>The HTTP status the endpoint answered the last attempt with; null when it gave none.</summary>
    public int? LastResponseStatus { get; set; }

    /// <summary>Why the last attempt failed, when it did.</summary>
    public string? LastError { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    /// <summary>The delivery this one sends again, when the tenant asked for a replay.</summary>
    public Guid? ReplayOf { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>Where a delivery stands.</summary>
public enum WebhookDeliveryStatus
{
    /// <summary>Not yet accepted by the endpoint: waiting for its turn, its next attempt, or its subscription to be resumed.</summary>
    Pending,

    /// <summary>The endpoint answered an attempt with a 2xx.</summary>
    Delivered,
}
