using System.ComponentModel;
using Brokering.ServiceDefaults.Security;
using Brokering.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Brokering.Inventory.DistributorWebhooks;

/// <summary>The body of <c>POST /v1/distributor/webhooks/subscriptions</c>.</summary>
/// <param name="Url">The HTTPS endpoint deliveries are POSTed to.</param>
/// <param name="EventTypes">The event types wanted: holds.placed, holds.committed, holds.released, holds.expired, order.placed, order.revoked.</param>
/// <param name="Description">Optional: what the endpoint is, for the distributor's own records.</param>
public sealed record DistributorSubscriptionRequest(string? Url, List<string?>? EventTypes, string? Description);

/// <summary>A distributor's subscription as it reads it (never with its secret).</summary>
/// <param name="Id">The subscription.</param>
/// <param name="Url">Where deliveries are POSTed.</param>
/// <param name="EventTypes">The event types it receives.</param>
/// <param name="Description">The distributor's note on the endpoint.</param>
/// <param name="State">Active, or Paused (by the distributor, or after repeated failures).</param>
/// <param name="PausedBecause">Why it is paused; null while active.</param>
/// <param name="PausedAt">When it was paused.</param>
/// <param name="ConsecutiveFailures">Failed attempts since the last success.</param>
/// <param name="CreatedAt">When it was made; it receives the events recorded from then on.</param>
public sealed record DistributorSubscriptionView(
    Guid Id, string Url, IReadOnlyList<string> EventTypes, string? Description, string State, string? PausedBecause, DateTimeOffset? PausedAt,
    int ConsecutiveFailures, DateTimeOffset CreatedAt)
{
    public static DistributorSubscriptionView Of(WebhookSubscription s) =>
        new(s.Id, s.Url, s.EventTypes, s.Description, s.State, s.PausedBecause, s.PausedAt, s.ConsecutiveFailures, s.CreatedAt);
}

/// <summary>The answer to a new subscription: the only time its signing <see cref="Secret"/> is shown.</summary>
public sealed record DistributorSubscriptionCreated(DistributorSubscriptionView Subscription, string Secret);

/// <summary>The distributor's subscriptions, oldest first.</summary>
public sealed record DistributorSubscriptionList(IReadOnlyList<DistributorSubscriptionView> Subscriptions);

/// <summary>
/// <c>/v1/distributor/webhooks/subscriptions</c>: the calling distributor's webhooks. The distributor is the one its token
/// names (the <c>tenant</c> claim); another distributor's subscriptions and deliveries do not exist for it (404).
/// </summary>
internal static class DistributorWebhooksApi
{
    private const string Route = "/v1/distributor/webhooks/subscriptions";

    public static IEndpointRouteBuilder MapDistributorWebhooksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(Route).WithTags("Distributor webhooks").RequireAuthorization(BrokeringRoles.Distributor)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);
        group.MapPost("/", CreateAsync)
            .WithName("CreateDistributorWebhookSubscription")
            .WithSummary("Subscribes an HTTPS endpoint to events about the caller's own stock: holds placed, committed, released, expired, and order notices.")
            .WithDescription("201 with the subscription and its signing secret, shown this once. Deliveries are signed the Standard Webhooks way "
                + "(webhook-id, webhook-timestamp, webhook-signature: v1,HMAC-SHA256 of id.timestamp.body), retried with back-off, sent in order "
                + "per reservation, and the subscription is paused after repeated failures. 400 names each bad field (an endpoint that is not "
                + "https, or on a private, loopback or link-local address, is refused); 409 when the distributor has as many subscriptions as it may.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/", ListAsync).WithName("ListDistributorWebhookSubscriptions").WithSummary("The caller's subscriptions, oldest first.");
        group.MapGet("/{id:guid}", GetAsync).WithName("GetDistributorWebhookSubscription")
            .WithSummary("One subscription, with its state (Active or Paused, and why).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id:guid}", DeleteAsync).WithName("DeleteDistributorWebhookSubscription")
            .WithSummary("Deletes a subscription and its delivery log; nothing more is sent.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/pause", PauseAsync).WithName("PauseDistributorWebhookSubscription")
            .WithSummary("Stops sending; new events still queue, in order, for a resume.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/resume", ResumeAsync).WithName("ResumeDistributorWebhookSubscription")
            .WithSummary("Sends again from the oldest pending delivery, whether it was paused by the caller or after repeated failures.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/{id:guid}/deliveries", DeliveriesAsync).WithName("ListDistributorWebhookDeliveries")
            .WithSummary("The subscription's delivery log, newest first: each event, its attempts and their outcome.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/deliveries/{deliveryId:guid}/replay", ReplayAsync).WithName("ReplayDistributorWebhookDelivery")
            .WithSummary("Sends a delivery's event again (same webhook-id and body, a fresh signature), as a new delivery.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Results<Created<DistributorSubscriptionCreated>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpContext http, DistributorSubscriptionRequest request, WebhookRequestRules rules, WebhookDeliveryLog<DistributorWebhooksDbContext> log,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (request is null)
        {
            errors["body"] = ["A JSON object with url and eventTypes."];
            return TypedResults.ValidationProblem(errors);
        }

        var eventTypes = rules.Check(request.Url, request.EventTypes, request.Description, DistributorWebhookEventTypes.All, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return await log.CreateAsync(Caller(http), new ValidSubscription(request.Url!, eventTypes, [], request.Description), cancellationToken) switch
        {
            WebhookDeliveryLog<DistributorWebhooksDbContext>.Creation.Created created => TypedResults.Created(
                $"{Route}/{created.Subscription.Id}",
                new DistributorSubscriptionCreated(DistributorSubscriptionView.Of(created.Subscription), created.Subscription.Secret)),
            WebhookDeliveryLog<DistributorWebhooksDbContext>.Creation.LimitReached limit => TypedResults.Problem(
                $"This distributor has {limit.Limit} subscriptions, as many as it may; delete one first.",
                statusCode: StatusCodes.Status409Conflict, title: "Subscription limit reached."),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status500InternalServerError),
        };
    }

    private static async Task<Ok<DistributorSubscriptionList>> ListAsync(
        HttpContext http, WebhookDeliveryLog<DistributorWebhooksDbContext> log, CancellationToken cancellationToken) =>
        TypedResults.Ok(new DistributorSubscriptionList([.. (await log.ListAsync(Caller(http), cancellationToken)).Select(DistributorSubscriptionView.Of)]));

    private static async Task<Results<Ok<DistributorSubscriptionView>, ProblemHttpResult>> GetAsync(
        HttpContext http, Guid id, WebhookDeliveryLog<DistributorWebhooksDbContext> log, CancellationToken cancellationToken) =>
        await log.GetAsync(Caller(http), id, cancellationToken) is { } found ? TypedResults.Ok(DistributorSubscriptionView.Of(found)) : NotFound(id);

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        HttpContext http, Guid id, WebhookDeliveryLog<DistributorWebhooksDbContext> log, CancellationToken cancellationToken) =>
        await log.DeleteAsync(Caller(http), id, cancellationToken) ? TypedResults.NoContent() : NotFound(id);

    private static async Task<Results<Ok<DistributorSubscriptionView>, ProblemHttpResult>> PauseAsync(
        HttpContext http, Guid id, WebhookDeliveryLog<DistributorWebhooksDbContext> log, CancellationToken cancellationToken) =>
        await log.PauseAsync(Caller(http), id, cancellationToken) is { } paused ? TypedResults.Ok(DistributorSubscriptionView.Of(paused)) : NotFound(id);

    private static async Task<Results<Ok<DistributorSubscriptionView>, ProblemHttpResult>> ResumeAsync(
        HttpContext http, Guid id, WebhookDeliveryLog<DistributorWebhooksDbContext> log, CancellationToken cancellationToken) =>
        await log.ResumeAsync(Caller(http), id, cancellationToken) is { } resumed ? TypedResults.Ok(DistributorSubscriptionView.Of(resumed)) : NotFound(id);

    private static async Task<Results<Ok<DeliveryPage>, ValidationProblem, ProblemHttpResult>> DeliveriesAsync(
        HttpContext http, Guid id,
        [Description("A page's next, unchanged, to read the (older) page after it.")] string? before,
        [Description("Most deliveries in the page, 1 to 200 (default 50).")] string? limit,
        WebhookDeliveryLog<DistributorWebhooksDbContext> log, CancellationToken cancellationToken)
    {
        var (query, errors) = DeliveryLogQuery.Parse(before, limit);
        if (query is not { } page)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return await log.DeliveriesAsync(Caller(http), id, page.Before, page.Limit, cancellationToken) is { } deliveries
            ? TypedResults.Ok(deliveries)
            : NotFound(id);
    }

    private static async Task<Results<Accepted<DeliveryView>, ProblemHttpResult>> ReplayAsync(
        HttpContext http, Guid id, Guid deliveryId, WebhookDeliveryLog<DistributorWebhooksDbContext> log, CancellationToken cancellationToken) =>
        await log.ReplayAsync(Caller(http), id, deliveryId, cancellationToken) is { } replay
            ? TypedResults.Accepted($"{Route}/{id}/deliveries", DeliveryView.Of(replay))
            : TypedResults.Problem($"No delivery {deliveryId} of subscription {id} exists for this distributor.",
                statusCode: StatusCodes.Status404NotFound, title: "Delivery not found.");

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem($"No webhook subscription {id} exists for this distributor.", statusCode: StatusCodes.Status404NotFound, title: "Subscription not found.");

    // The distributor policy admits only tokens with a tenant claim.
    private static string Caller(HttpContext http) =>
        http.User.FindFirst(BrokeringRoles.TenantClaim)?.Value
        ?? throw new InvalidOperationException("A distributor token without a tenant claim passed the distributor policy.");
}

/// <summary>Wiring of the distributors' webhooks: their tables, the recorder on the internal bus, the shared dispatcher.</summary>
internal static class DistributorWebhooksExtensions
{
    public static WebApplicationBuilder AddDistributorWebhooks(this WebApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString("Database")
            ?? throw new InvalidOperationException("ConnectionStrings:Database is not configured.");
        builder.Services.AddDbContext<DistributorWebhooksDbContext>(options => DistributorWebhooksDbContext.Configure(options, connectionString));
        builder.AddWebhookDelivery<DistributorWebhooksDbContext>();
        return builder;
    }
}
