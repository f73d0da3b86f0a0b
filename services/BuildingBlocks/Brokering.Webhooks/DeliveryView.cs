using System.Text.Json;

namespace Brokering.Webhooks;

/// <summary>One entry of a subscription's delivery log.</summary>
/// <param name="Id">The delivery (the id to replay it by).</param>
/// <param name="EventId">The <c>webhook-id</c> it is sent under: the same on every attempt and replay.</param>
/// <param name="EventType">The event type, e.g. <c>reservation.status_changed</c> or <c>holds.committed</c>.</param>
/// <param name="ReservationId">The reservation the event is about.</param>
/// <param name="Status">Pending or Delivered.</param>
/// <param name="Attempts">Attempts made so far.</param>
/// <param name="LastAttemptAt">When the last attempt was made.</param>
/// <param name="LastResponseStatus">The HTTP status the endpoint answered the last attempt with (null when it gave none).</param>
/// <param name="LastError">Why the last attempt failed, when it did.</param>
/// <param name="NextAttemptAt">When it is tried next (null once delivered; while paused, it waits for a resume).</param>
/// <param name="DeliveredAt">When the endpoint accepted it with a 2xx.</param>
/// <param name="ReplayOf">The delivery this one sends again, for a replay.</param>
/// <param name="CreatedAt">When the delivery was made.</param>
/// <param name="Payload">The body sent (the same on every attempt).</param>
public sealed record DeliveryView(
    Guid Id,
    string EventId,
    string EventType,
    Guid ReservationId,
    string Status,
    int Attempts,
    DateTimeOffset? LastAttemptAt,
    int? LastResponseStatus,
    string? LastError,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    Guid? ReplayOf,
    DateTimeOffset CreatedAt,
    JsonElement Payload)
{
    public static DeliveryView Of(WebhookDelivery d) => new(
        d.Id, d.EventId, d.EventType, d.ReservationId, d.Status, d.Attempts, d.LastAttemptAt, d.LastResponseStatus, d.LastError,
        d.Status == nameof(WebhookDeliveryStatus.Pending) ? d.NextAttemptAt : null, d.DeliveredAt, d.ReplayOf, d.CreatedAt,
        JsonDocument.Parse(d.Body).RootElement.Clone());
}

/// <summary>A page of the delivery log, newest first; <see cref="Next"/> (null on the last page) passed as <c>before</c> reads on.</summary>
public sealed record DeliveryPage(IReadOnlyList<DeliveryView> Deliveries, string? Next);
