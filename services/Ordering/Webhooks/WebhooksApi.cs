using Brokering.Ordering.Buyers;
using Brokering.ServiceDefaults.Security;
using Brokering.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Brokering.Ordering.Webhooks;

/// <summary>The buyers' webhook subscriptions: <c>/v1/webhooks/subscriptions</c>, each scoped to the caller's organisation.</summary>
public static class WebhooksApi
{
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/webhooks/subscriptions").WithTags("Webhooks").RequireAuthorization(BrokeringRoles.Buyer)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        group.MapPost("/", CreateAsync)
            .WithSummary("Subscribes an HTTPS endpoint to the caller's reservation events.")
            .WithDescription("201 with the subscription and its signing secret, shown this once. 400 names each bad field (an endpoint "
                + "that is not https, or on a private, loopback or link-local address, is refused); 409 when the organisation has "
                + "as many subscriptions as it may.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/", ListAsync).WithSummary("The caller's subscriptions, oldest first.");
        group.MapGet("/{id:guid}", GetAsync).WithSummary("One subscription, with its state (Active or Paused, and why).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id:guid}", DeleteAsync).WithSummary("Deletes a subscription and its delivery log; nothing more is sent.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/pause", PauseAsync)
            .WithSummary("Stops sending; new events still queue, in order, for a resume.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/resume", ResumeAsync)
            .WithSummary("Sends again from the oldest pending delivery, whether it was paused by the caller or after repeated failures.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/{id:guid}/deliveries", DeliveriesAsync)
            .WithSummary("The subscription's delivery log, newest first: each event, its attempts and their outcome.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/deliveries/{deliveryId:guid}/replay", ReplayAsync)
            .WithSummary("Sends a delivery's event again (same webhook-id and body, a fresh signature), as a new delivery.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Results<Created<SubscriptionCreated>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpContext http, CreateSubscriptionRequest request, WebhookRegistration registration, WebhookDeliveryLog<WebhooksDbContext> subscriptions,
        CancellationToken cancellationToken)
    {
        var tenant = BuyerIdentity.Of(http);
        var (valid, errors) = registration.Validate(request);
        if (valid is null)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return await subscriptions.CreateAsync(tenant, valid, cancellationToken, ReservationChangeFanOut.FeedHeadAsync) switch
        {
            WebhookDeliveryLog<WebhooksDbContext>.Creation.Created created => TypedResults.Created(
                $"/v1/webhooks/subscriptions/{created.Subscription.Id}",
                new SubscriptionCreated(SubscriptionView.Of(created.Subscription), created.Subscription.Secret)),
            WebhookDeliveryLog<WebhooksDbContext>.Creation.LimitReached limit => TypedResults.Problem(
                $"This organisation has {limit.Limit} subscriptions, as many as it may; delete one first.",
                statusCode: StatusCodes.Status409Conflict, title: "Subscription limit reached."),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status500InternalServerError),
        };
    }

    private static async Task<Ok<SubscriptionList>> ListAsync(HttpContext http, WebhookDeliveryLog<WebhooksDbContext> subscriptions, CancellationToken cancellationToken) =>
        TypedResults.Ok(new SubscriptionList([.. (await subscriptions.ListAsync(BuyerIdentity.Of(http), cancellationToken)).Select(SubscriptionView.Of)]));

    private static async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> GetAsync(
        HttpContext http, Guid id, WebhookDeliveryLog<WebhooksDbContext> subscriptions, CancellationToken cancellationToken) =>
        await subscriptions.GetAsync(BuyerIdentity.Of(http), id, cancellationToken) is { } found ? TypedResults.Ok(SubscriptionView.Of(found)) : NotFound(id);

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        HttpContext http, Guid id, WebhookDeliveryLog<WebhooksDbContext> subscriptions, CancellationToken cancellationToken) =>
        await subscriptions.DeleteAsync(BuyerIdentity.Of(http), id, cancellationToken) ? TypedResults.NoContent() : NotFound(id);

    private static async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> PauseAsync(
        HttpContext http, Guid id, WebhookDeliveryLog<WebhooksDbContext> subscriptions, CancellationToken cancellationToken) =>
        await subscriptions.PauseAsync(BuyerIdentity.Of(http), id, cancellationToken) is { } paused ? TypedResults.Ok(SubscriptionView.Of(paused)) : NotFound(id);

    private static async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> ResumeAsync(
        HttpContext http, Guid id, WebhookDeliveryLog<WebhooksDbContext> subscriptions, CancellationToken cancellationToken) =>
        await subscriptions.ResumeAsync(BuyerIdentity.Of(http), id, cancellationToken) is { } resumed ? TypedResults.Ok(SubscriptionView.Of(resumed)) : NotFound(id);

    /// <summary>A page of the log: <paramref name="limit"/> 1–200 (default 50), from just before <paramref name="before"/> (a page's next).</summary>
    private static async Task<Results<Ok<DeliveryPage>, ValidationProblem, ProblemHttpResult>> DeliveriesAsync(
        HttpContext http, Guid id, string? before, string? limit, WebhookDeliveryLog<WebhooksDbContext> subscriptions, CancellationToken cancellationToken)
    {
        var (query, errors) = DeliveryLogQuery.Parse(before, limit);
        if (query is not { } page)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return await subscriptions.DeliveriesAsync(BuyerIdentity.Of(http), id, page.Before, page.Limit, cancellationToken) is { } deliveries
            ? TypedResults.Ok(deliveries)
            : NotFound(id);
    }

    private static async Task<Results<Accepted<DeliveryView>, ProblemHttpResult>> ReplayAsync(
        HttpContext http, Guid id, Guid deliveryId, WebhookDeliveryLog<WebhooksDbContext> subscriptions, CancellationToken cancellationToken) =>
        await subscriptions.ReplayAsync(BuyerIdentity.Of(http), id, deliveryId, cancellationToken) is { } replay
            ? TypedResults.Accepted($"/v1/webhooks/subscriptions/{id}/deliveries", DeliveryView.Of(replay))
            : TypedResults.Problem($"No delivery {deliveryId} of subscription {id} exists for this organisation.",
                statusCode: StatusCodes.Status404NotFound, title: "Delivery not found.");

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem($"No webhook subscription {id} exists for this organisation.", statusCode: StatusCodes.Status404NotFound, title: "Subscription not found.");
}
