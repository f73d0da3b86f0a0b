namespace Brokering.Ordering.Webhooks;

/// <summary>
/// A tenant's HTTPS endpoint and the events it wants, with the secret its deliveries are signed with and how far
/// into the tenant's change feed its deliveries have been made.
/// </summary>
public sealed class WebhookSubscription
{
    public Guid Id { get; set; }

    /// <summary>The buyer organisation (the token's tenant claim) that owns it.</summary>
    public string TenantId { get; set; } = null!;

    public string Url { get; set; } = null!;

    /// <summary>The event types wanted (<see cref="WebhookEventTypes"/>).</summary>
    public List<string> EventTypes { get; set; } = [];

    /// <summary>For <c>reservation.status_changed</c>: only transitions into these statuses; empty for every transition.</summary>
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

    /// <summary>The change feed cursor (transaction order) of the last change turned into deliveries (or passed over).</summary>
    public long FeedTransactionOrder { get; set; }

    /// <summary>The change feed cursor (position) of the last change turned into deliveries (or passed over).</summary>
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

/// <summary>The event types a subscription can ask for.</summary>
public static class WebhookEventTypes
{
    /// <summary>A reservation moved from one status to another (one event per transition in the change feed).</summary>
    public const string ReservationStatusChanged = "reservation.status_changed";

    public static readonly IReadOnlyList<string> All = [ReservationStatusChanged];
}
