using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace Brokering.Client.Webhooks;

/// <summary>
/// The caller's webhook subscriptions (<see cref="BuyerClient.Webhooks"/>, <see cref="DistributorClient.Webhooks"/>):
/// register an HTTPS endpoint for the events it wants, read, pause, resume and delete it, read its delivery log and
/// replay a delivery. Everything it sees is the token's organisation's own; another's subscription is a 404.
/// </summary>
/// <remarks>
/// Reads, pause and resume (which leave a subscription in the same state however often they are sent) are retried like
/// any safe request. Creating, deleting and replaying are sent again only after a 429, which the service answers before
/// it reads the request: a create sent twice would make two subscriptions, a replay two deliveries, and a delete sent
/// again after its answer was lost would be told 404.
/// </remarks>
public sealed class WebhookSubscriptions
{
    private readonly ApiConnection api;
    private readonly string root;

    internal WebhookSubscriptions(ApiConnection api, string root)
    {
        this.api = api;
        this.root = root;
    }

    /// <summary>Subscribes an HTTPS endpoint to events.</summary>
    /// <param name="subscription">The endpoint and the event types wanted.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The subscription and its signing secret, which is shown this once: keep it for <see cref="WebhookSignatureVerifier"/>.</returns>
    /// <exception cref="BrokeringApiException">400 naming each bad field (<c>url</c>, <c>eventTypes[0]</c>, …); 409 when the organisation has as many subscriptions as it may.</exception>
    public Task<CreatedWebhookSubscription> CreateAsync(NewWebhookSubscription subscription, CancellationToken cancellationToken = default) =>
        api.SendAsync<CreatedWebhookSubscription>(
            () => new HttpRequestMessage(HttpMethod.Post, root) { Content = JsonContent.Create(subscription, options: ApiConnection.Json) },
            RetrySafety.OnlyIfRefusedUnread,
            cancellationToken);

    /// <summary>The caller's subscriptions, oldest first.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The subscriptions (never with their secrets).</returns>
    public async Task<IReadOnlyList<WebhookSubscription>> ListAsync(CancellationToken cancellationToken = default) =>
        (await api.SendAsync<WebhookSubscriptionList>(() => new HttpRequestMessage(HttpMethod.Get, root), RetrySafety.Idempotent, cancellationToken))
        .Subscriptions;

    /// <summary>One subscription, with its state.</summary>
    /// <param name="id">The subscription.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The subscription.</returns>
    /// <exception cref="BrokeringApiException">404 when the caller has no such subscription.</exception>
    public Task<WebhookSubscription> GetAsync(Guid id, CancellationToken cancellationToken = default) =>
        api.SendAsync<WebhookSubscription>(() => new HttpRequestMessage(HttpMethod.Get, $"{root}/{id}"), RetrySafety.Idempotent, cancellationToken);

    /// <summary>Deletes a subscription and its delivery log; nothing more is sent to it.</summary>
    /// <param name="id">The subscription.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>When it is deleted.</returns>
    /// <exception cref="BrokeringApiException">404 when the caller has no such subscription.</exception>
    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken = default)
    {
        using var response = await api.SendAsync(
            () => new HttpRequestMessage(HttpMethod.Delete, $"{root}/{id}"), RetrySafety.OnlyIfRefusedUnread, cancellationToken);
    }

    /// <summary>Stops sending; new events still become deliveries and wait, in order, for <see cref="ResumeAsync"/>.</summary>
    /// <param name="id">The subscription.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The subscription, <c>Paused</c>.</returns>
    /// <exception cref="BrokeringApiException">404 when the caller has no such subscription.</exception>
    public Task<WebhookSubscription> PauseAsync(Guid id, CancellationToken cancellationToken = default) =>
        api.SendAsync<WebhookSubscription>(() => new HttpRequestMessage(HttpMethod.Post, $"{root}/{id}/pause"), RetrySafety.Idempotent, cancellationToken);

    /// <summary>Sends again from the oldest pending delivery, whether the caller paused it or repeated failures did.</summary>
    /// <param name="id">The subscription.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The subscription, <c>Active</c>.</returns>
    /// <exception cref="BrokeringApiException">404 when the caller has no such subscription.</exception>
    public Task<WebhookSubscription> ResumeAsync(Guid id, CancellationToken cancellationToken = default) =>
        api.SendAsync<WebhookSubscription>(() => new HttpRequestMessage(HttpMethod.Post, $"{root}/{id}/resume"), RetrySafety.Idempotent, cancellationToken);

    /// <summary>One page of the subscription's delivery log, newest first.</summary>
    /// <param name="id">The subscription.</param>
    /// <param name="before">A page's <see cref="WebhookDeliveryPage.Next"/> for the (older) page after it; null for the newest.</param>
    /// <param name="limit">1 to 200 a page; the service's default (50) when null.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The page.</returns>
    /// <exception cref="BrokeringApiException">404 when the caller has no such subscription; 400 naming <c>before</c> or <c>limit</c>.</exception>
    public Task<WebhookDeliveryPage> DeliveriesAsync(Guid id, string? before = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var query = string.Join('&', new[]
        {
            before is null ? null : "before=" + Uri.EscapeDataString(before),
            limit is null ? null : "limit=" + limit.Value.ToString(CultureInfo.InvariantCulture),
        }.OfType<string>());
        var path = $"{root}/{id}/deliveries" + (query.Length > 0 ? "?" + query : string.Empty);
        return api.SendAsync<WebhookDeliveryPage>(() => new HttpRequestMessage(HttpMethod.Get, path), RetrySafety.Idempotent, cancellationToken);
    }

    /// <summary>Sends a delivery's event again, as a new delivery with the same <c>webhook-id</c> and body and a fresh signature.</summary>
    /// <param name="id">The subscription.</param>
    /// <param name="deliveryId">The delivery, from the log.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The new delivery, pending.</returns>
    /// <exception cref="BrokeringApiException">404 when the caller has no such subscription or delivery.</exception>
    public Task<WebhookDelivery> ReplayAsync(Guid id, Guid deliveryId, CancellationToken cancellationToken = default) =>
        api.SendAsync<WebhookDelivery>(
            () => new HttpRequestMessage(HttpMethod.Post, $"{root}/{id}/deliveries/{deliveryId}/replay"), RetrySafety.OnlyIfRefusedUnread, cancellationToken);
}

/// <summary>The event types a buyer's subscription can ask for.</summary>
public static class BuyerWebhookEvents
{
    /// <summary>A reservation moved from one status to another; the data is a <see cref="ReservationChange"/>.</summary>
    public const string ReservationStatusChanged = "reservation.status_changed";
}

/// <summary>The event types a distributor's subscription can ask for; each is about the distributor's own stock only.</summary>
public static class DistributorWebhookEvents
{
    /// <summary>Units of the distributor's stock were held for a buyer's reservation.</summary>
    public const string HoldsPlaced = "holds.placed";

    /// <summary>Held units were made firm by the buyer's confirmation.</summary>
    public const string HoldsCommitted = "holds.committed";

    /// <summary>Held (or committed, for a revoked commit) units went back to available stock.</summary>
    public const string HoldsReleased = "holds.released";

    /// <summary>Held units lapsed unconfirmed and went back to available stock.</summary>
    public const string HoldsExpired = "holds.expired";

    /// <summary>An order notice: what to ship, from where, at what price.</summary>
    public const string OrderPlaced = "order.placed";

    /// <summary>An order announced by <see cref="OrderPlaced"/> no longer stands; its holds were released.</summary>
    public const string OrderRevoked = "order.revoked";
}

/// <summary>A new subscription.</summary>
/// <param name="Url">The HTTPS endpoint deliveries are POSTed to (public addresses only).</param>
/// <param name="EventTypes">One or more of <see cref="BuyerWebhookEvents"/> (buyers) or <see cref="DistributorWebhookEvents"/> (distributors).</param>
/// <param name="Statuses">Buyers only: deliver only transitions into these reservation statuses (see <see cref="ReservationStatus"/>); all when null.</param>
/// <param name="Description">What the endpoint is, for the caller's own records; at most 200 characters.</param>
/// <param name="StartAfter">Buyers only: a change feed cursor (<see cref="ReservationChange.Cursor"/>) to be sent every change
/// after it, including those made before the subscription, so nothing between the feed you read and the subscription
/// is missed; from the subscription's creation on when null.</param>
public sealed record NewWebhookSubscription(
    string Url, IReadOnlyList<string> EventTypes, IReadOnlyList<string>? Statuses = null, string? Description = null, string? StartAfter = null);

/// <summary>A subscription as its owner reads it (never with its secret).</summary>
/// <param name="Id">The subscription.</param>
/// <param name="Url">Where deliveries are POSTed.</param>
/// <param name="EventTypes">The event types it receives.</param>
/// <param name="Statuses">Buyers: the reservation statuses it is limited to (empty for all); distributors: null.</param>
/// <param name="Description">The owner's note on the endpoint.</param>
/// <param name="State"><c>Active</c>, or <c>Paused</c> (by the owner, or after repeated failures).</param>
/// <param name="PausedBecause">Why it is paused; null while active.</param>
/// <param name="PausedAt">When it was paused.</param>
/// <param name="ConsecutiveFailures">Failed attempts since the last success.</param>
/// <param name="CreatedAt">When it was made; it receives the events from then on.</param>
public sealed record WebhookSubscription(
    Guid Id,
    string Url,
    IReadOnlyList<string> EventTypes,
    IReadOnlyList<string>? Statuses,
    string? Description,
    string State,
    string? PausedBecause,
    DateTimeOffset? PausedAt,
    int ConsecutiveFailures,
    DateTimeOffset CreatedAt)
{
    /// <summary>Whether deliveries are held back (by the owner, or after repeated failures).</summary>
    public bool IsPaused => State == "Paused";
}

/// <summary>A subscription just made, with the secret its deliveries are signed with (shown this once).</summary>
/// <param name="Subscription">The subscription.</param>
/// <param name="Secret"><c>whsec_</c> and the key, for <see cref="WebhookSignatureVerifier"/>.</param>
public sealed record CreatedWebhookSubscription(WebhookSubscription Subscription, string Secret);

/// <summary>One entry of a subscription's delivery log.</summary>
/// <param name="Id">The delivery (the id to replay it by).</param>
/// <param name="EventId">The <c>webhook-id</c> it is sent under: the same on every attempt and replay, to drop duplicates by.</param>
/// <param name="EventType">The event type.</param>
/// <param name="ReservationId">The reservation the event is about.</param>
/// <param name="Status"><c>Pending</c> or <c>Delivered</c>.</param>
/// <param name="Attempts">Attempts made so far.</param>
/// <param name="LastAttemptAt">When the last attempt was made.</param>
/// <param name="LastResponseStatus">The HTTP status the endpoint answered the last attempt with.</param>
/// <param name="LastError">Why the last attempt failed, when it did.</param>
/// <param name="NextAttemptAt">When it is tried next (null once delivered).</param>
/// <param name="DeliveredAt">When the endpoint accepted it.</param>
/// <param name="ReplayOf">The delivery this one sends again, for a replay.</param>
/// <param name="CreatedAt">When the delivery was made.</param>
/// <param name="Payload">The body sent.</param>
public sealed record WebhookDelivery(
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
    JsonElement Payload);

/// <summary>A page of a delivery log, newest first.</summary>
/// <param name="Deliveries">The page.</param>
/// <param name="Next">Passed as <c>before</c>, the (older) page after it; null on the last page.</param>
public sealed record WebhookDeliveryPage(IReadOnlyList<WebhookDelivery> Deliveries, string? Next);

/// <summary>The list answer.</summary>
internal sealed record WebhookSubscriptionList(IReadOnlyList<WebhookSubscription> Subscriptions);
