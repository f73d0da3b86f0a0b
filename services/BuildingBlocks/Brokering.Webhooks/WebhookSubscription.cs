namespace Brokering.Webhooks;

/// <summary>
/// A tenant's HTTPS endpoint and the events it wants, with the secret its deliveries are signed with and, for a
/// service that makes deliveries from a feed of its own, how far into it its deliveries have been made.
/// </summary>
public sealed class WebhookSubscription
{
    public Guid Id { get; set; }

    /// <summary>The organisation (the token's tenant claim: a buyer in ordering, a distributor in inventory) that owns it.</summary>
    public string TenantId { get; set; } = null!;

    public string Url { get; set; } = null!;

    /// <summary>The event types wanted (each service names its own).</summary>
    public List<string> EventTypes { get; set; } = [];

    /// <summary>A further filter of the service's own (ordering: only transitions into these statuses); empty for all.</summary>
    public List<string> Statuses { get; set; } = [];

    public string? Description { get; set; }

    /// <summary>
    /// <c>whsec_</c> and the base64 of the HMAC key. Kept as is because signing needs the key itself; it is shown to
    /// the tenant once, when the subscription is made.
    /// </summary>
    public string Secret { get; set; } = null!;

    /// <summary><see cref="WebhookSubscriptionState"/> as text.</summary>
    public string State { get; set; } = nameof(WebhookSubscriptionState.Active);

    /// <summary>Why it is paused (by its tenant, or after repeated failures); null while active.</summary>
    public string? PausedBecause { get; set; }

    public DateTimeOffset? PausedAt { get; set; }

    /// <summary>Failed attempts since the last successful one, across the subscription's deliveries.</summary>
    public int ConsecutiveFailures { get; set; }

    /// <summary>The feed cursor (transaction order) of the last change turned into deliveries (or passed over); 0 for a service without a feed.</summary>
    public long FeedTransactionOrder { get; set; }

    /// <summary>The feed cursor (position) of the last change turned into deliveries (or passed over); 0 for a service without a feed.</summary>
    public long FeedPosition { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>Whether a subscription's deliveries are sent.</summary>
public enum WebhookSubscriptionState
{
    /// <summary>Deliveries are sent as they fall due.</summary>
    Active,

    /// <summary>
    /// Nothing is sent; new changes still become deliveries, which wait, in order, for the tenant to resume it.
    /// </summary>
    Paused,
}
