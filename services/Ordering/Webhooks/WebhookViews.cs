using System.Text.Json.Serialization;
using Brokering.Webhooks;

namespace Brokering.Ordering.Webhooks;

/// <summary>A subscription as its tenant reads it (never with its secret).</summary>
public sealed record SubscriptionView(
    Guid Id,
    string Url,
    IReadOnlyList<string> EventTypes,
    IReadOnlyList<string> Statuses,
    string? Description,
    string State,
    string? PausedBecause,
    DateTimeOffset? PausedAt,
    int ConsecutiveFailures,
    DateTimeOffset CreatedAt)
{
    public static SubscriptionView Of(WebhookSubscription s) =>
        new(s.Id, s.Url, s.EventTypes, s.Statuses, s.Description, s.State, s.PausedBecause, s.PausedAt, s.ConsecutiveFailures, s.CreatedAt);
}

/// <summary>The answer to a new subscription: the only time its signing <see cref="Secret"/> is shown.</summary>
public sealed record SubscriptionCreated(SubscriptionView Subscription, string Secret);

/// <summary>The tenant's subscriptions, oldest first.</summary>
public sealed record SubscriptionList(IReadOnlyList<SubscriptionView> Subscriptions);

/// <summary>The body of a <c>reservation.status_changed</c> delivery (Standard Webhooks' type / timestamp / data shape).</summary>
public sealed record StatusChangedEvent(string Type, DateTimeOffset Timestamp, StatusChangedData Data);

/// <summary>The change itself, as the change feed shows it; <see cref="Cursor"/> resumes the feed just after it.</summary>
public sealed record StatusChangedData(
    Guid ReservationId, string From, string To, string Event, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Reason, DateTimeOffset At, string Cursor);
