namespace Brokering.Ordering.Webhooks;

/// <summary>The event types a subscription can ask for.</summary>
public static class WebhookEventTypes
{
    /// <summary>A reservation moved from one status to another (one event per transition in the change feed).</summary>
    public const string ReservationStatusChanged = "reservation.status_changed";

    public static readonly IReadOnlyList<string> All = [ReservationStatusChanged];
}
