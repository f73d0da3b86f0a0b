using System.ComponentModel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Webhooks;

/// <summary>
/// What one service's webhook subscription API has of its own; everything else (the eight operations, their statuses,
/// problem documents and OpenAPI descriptions) is <see cref="WebhookSubscriptionsApi.MapWebhookSubscriptions"/>.
/// </summary>
/// <typeparam name="TContext">The service's context holding the webhook tables.</typeparam>
/// <typeparam name="TRequest">The body of a new subscription, as the service documents it.</typeparam>
/// <typeparam name="TView">A subscription as its tenant reads it.</typeparam>
/// <typeparam name="TCreated">The answer to a new subscription: the view and its secret.</typeparam>
/// <typeparam name="TList">The tenant's subscriptions.</typeparam>
public sealed class WebhookSubscriptionsApiDefinition<TContext, TRequest, TView, TCreated, TList>
    where TContext : DbContext
{
    /// <summary>The group's path, e.g. <c>/v1/webhooks/subscriptions</c>.</summary>
    public required string Route { get; init; }

    /// <summary>The OpenAPI tag of every operation.</summary>
    public required string Tag { get; init; }

    /// <summary>The authorization policy a caller must meet.</summary>
    public required string Policy { get; init; }

    /// <summary>
    /// Prefix of the OpenAPI operation ids (<c>Create{prefix}WebhookSubscription</c>, <c>List{prefix}WebhookDeliveries</c>, …);
    /// null leaves the operations unnamed.
    /// </summary>
    public string? OperationNamePrefix { get; init; }

    /// <summary>What the owning tenant is called in refusals ("No webhook subscription … exists for this <i>organisation</i>").</summary>
    public required string TenantNoun { get; init; }

    /// <summary>The calling tenant, from the request the policy admitted.</summary>
    public required Func<HttpContext, string> Tenant { get; init; }

    /// <summary>Checks a new subscription: the subscription, or each bad field by its path in the request.</summary>
    public required Func<TRequest, IServiceProvider, (ValidSubscription? Subscription, Dictionary<string, string[]> Errors)> Validate { get; init; }

    /// <summary>Where a new subscription's deliveries start, for a service that makes them from a feed; null for "from now on".</summary>
    public Func<TContext, string, CancellationToken, Task<(long Order, long Position)>>? StartingPoint { get; init; }

    /// <summary>
    /// How long after its commit a new subscription may still go unseen by the service's recorders (which remember for
    /// that long that no subscription exists, rather than ask for every event). The create answer waits that long, so
    /// every event recorded after the answer reaches the subscription. Zero (the default) for a service that always asks.
    /// </summary>
    public TimeSpan TakesEffectWithin { get; init; }

    /// <summary>
    /// Runs a creation (the function given, at most once) with what the service must have in place before a
    /// subscription exists, e.g. inventory's recorder queue bound to the events, so nothing recorded after the answer
    /// misses it. <see cref="WebhookDeliveryLog{TContext}.Creation.Unavailable"/> when that could not be done in time
    /// (answered 503), in which case the creation must not have been run. Null runs the creation alone.
    /// </summary>
    public Func<HttpContext, Func<CancellationToken, Task<WebhookDeliveryLog<TContext>.Creation>>, CancellationToken, Task<WebhookDeliveryLog<TContext>.Creation>>? AroundCreate
    {
        get; init;
    }

    /// <summary>Runs after a subscription is deleted, before the answer (inventory unbinds its recorder's queue after the last one); null for nothing.</summary>
    public Func<HttpContext, CancellationToken, Task>? AfterDelete { get; init; }

    /// <summary>The summary of the create operation: which events can be subscribed to.</summary>
    public required string CreateSummary { get; init; }

    /// <summary>The description of the create operation.</summary>
    public required string CreateDescription { get; init; }

    /// <summary>A subscription as the tenant reads it.</summary>
    public required Func<WebhookSubscription, TView> View { get; init; }

    /// <summary>The answer to a new subscription, from its view and its secret.</summary>
    public required Func<TView, string, TCreated> Created { get; init; }

    /// <summary>The answer to a list.</summary>
    public required Func<IReadOnlyList<TView>, TList> List { get; init; }
}

/// <summary>
/// A tenant's webhook subscriptions over REST: create, list, get, delete, pause, resume, the delivery log and replay,
/// every one scoped to the calling tenant (another tenant's subscription or delivery does not exist for it: 404).
/// </summary>
public static class WebhookSubscriptionsApi
{
    /// <summary>Maps the eight operations under <see cref="WebhookSubscriptionsApiDefinition{TContext, TRequest, TView, TCreated, TList}.Route"/>.</summary>
    /// <returns>The group, for conventions of the service's own (they apply to every operation).</returns>
    public static RouteGroupBuilder MapWebhookSubscriptions<TContext, TRequest, TView, TCreated, TList>(
        this IEndpointRouteBuilder app, WebhookSubscriptionsApiDefinition<TContext, TRequest, TView, TCreated, TList> api)
        where TContext : DbContext
    {
        var endpoints = new Endpoints<TContext, TRequest, TView, TCreated, TList>(api);
        var group = app.MapGroup(api.Route).WithTags(api.Tag).RequireAuthorization(api.Policy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);
        // Passed as a Delegate: ASP.NET's route handler analyzer fails (AD0001) on a handler parameter whose type is a
        // type parameter; the handler binds at run time as any other (the body as the service's closed request type).
        Delegate create = endpoints.CreateAsync;
        var creating = group.MapPost("/", create).Named(api, "Create{0}WebhookSubscription")
            .WithSummary(api.CreateSummary)
            .WithDescription(api.CreateDescription)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        if (api.AroundCreate is not null)
        {
            creating.ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        }

        group.MapGet("/", endpoints.ListAsync).Named(api, "List{0}WebhookSubscriptions")
            .WithSummary("The caller's subscriptions, oldest first.");
        group.MapGet("/{id:guid}", endpoints.GetAsync).Named(api, "Get{0}WebhookSubscription")
            .WithSummary("One subscription, with its state (Active or Paused, and why).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id:guid}", endpoints.DeleteAsync).Named(api, "Delete{0}WebhookSubscription")
            .WithSummary("Deletes a subscription and its delivery log; nothing more is sent.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/pause", endpoints.PauseAsync).Named(api, "Pause{0}WebhookSubscription")
            .WithSummary("Stops sending; new events still queue, in order, for a resume.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/resume", endpoints.ResumeAsync).Named(api, "Resume{0}WebhookSubscription")
            .WithSummary("Sends again from the oldest pending delivery, whether it was paused by the caller or after repeated failures.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/{id:guid}/deliveries", endpoints.DeliveriesAsync).Named(api, "List{0}WebhookDeliveries")
            .WithSummary("The subscription's delivery log, newest first: each event, its attempts and their outcome.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/deliveries/{deliveryId:guid}/replay", endpoints.ReplayAsync).Named(api, "Replay{0}WebhookDelivery")
            .WithSummary("Sends a delivery's event again (same webhook-id and body, a fresh signature), as a new delivery.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static RouteHandlerBuilder Named<TContext, TRequest, TView, TCreated, TList>(
        this RouteHandlerBuilder endpoint, WebhookSubscriptionsApiDefinition<TContext, TRequest, TView, TCreated, TList> api, string pattern)
        where TContext : DbContext =>
        api.OperationNamePrefix is { } prefix ? endpoint.WithName(string.Format(System.Globalization.CultureInfo.InvariantCulture, pattern, prefix)) : endpoint;

    private sealed class Endpoints<TContext, TRequest, TView, TCreated, TList>(WebhookSubscriptionsApiDefinition<TContext, TRequest, TView, TCreated, TList> api)
        where TContext : DbContext
    {
        public async Task<Results<Created<TCreated>, ValidationProblem, ProblemHttpResult>> CreateAsync(
            HttpContext http, TRequest request, WebhookDeliveryLog<TContext> log, CancellationToken cancellationToken)
        {
            var (valid, errors) = api.Validate(request, http.RequestServices);
            if (valid is null)
            {
                return TypedResults.ValidationProblem(errors);
            }

            var tenant = api.Tenant(http);
            Func<CancellationToken, Task<WebhookDeliveryLog<TContext>.Creation>> create = token => log.CreateAsync(tenant, valid, token, api.StartingPoint);
            var creation = api.AroundCreate is { } around ? await around(http, create, cancellationToken) : await create(cancellationToken);
            if (creation is WebhookDeliveryLog<TContext>.Creation.Created && api.TakesEffectWithin > TimeSpan.Zero)
            {
                await Task.Delay(api.TakesEffectWithin, http.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System, cancellationToken);
            }

            return creation switch
            {
                WebhookDeliveryLog<TContext>.Creation.Created created => TypedResults.Created(
                    $"{api.Route}/{created.Subscription.Id}", api.Created(api.View(created.Subscription), created.Subscription.Secret)),
                WebhookDeliveryLog<TContext>.Creation.LimitReached limit => TypedResults.Problem(
                    $"This {api.TenantNoun} has {limit.Limit} subscriptions, as many as it may; delete one first.",
                    statusCode: StatusCodes.Status409Conflict, title: "Subscription limit reached."),
                WebhookDeliveryLog<TContext>.Creation.Unavailable unavailable => TypedResults.Problem(
                    unavailable.Detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: unavailable.Title),
                WebhookDeliveryLog<TContext>.Creation.StartAfterAhead => TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["startAfter"] = ["Past the end of this feed: give a cursor the change feed handed out."],
                }),
                _ => TypedResults.Problem(statusCode: StatusCodes.Status500InternalServerError),
            };
        }

        public async Task<Ok<TList>> ListAsync(HttpContext http, WebhookDeliveryLog<TContext> log, CancellationToken cancellationToken) =>
            TypedResults.Ok(api.List([.. (await log.ListAsync(api.Tenant(http), cancellationToken)).Select(api.View)]));

        public async Task<Results<Ok<TView>, ProblemHttpResult>> GetAsync(
            HttpContext http, Guid id, WebhookDeliveryLog<TContext> log, CancellationToken cancellationToken) =>
            await log.GetAsync(api.Tenant(http), id, cancellationToken) is { } found ? TypedResults.Ok(api.View(found)) : NotFound(id);

        public async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
            HttpContext http, Guid id, WebhookDeliveryLog<TContext> log, CancellationToken cancellationToken)
        {
            if (!await log.DeleteAsync(api.Tenant(http), id, cancellationToken))
            {
                return NotFound(id);
            }

            if (api.AfterDelete is { } after)
            {
                await after(http, cancellationToken);
            }

            return TypedResults.NoContent();
        }

        public async Task<Results<Ok<TView>, ProblemHttpResult>> PauseAsync(
            HttpContext http, Guid id, WebhookDeliveryLog<TContext> log, CancellationToken cancellationToken) =>
            await log.PauseAsync(api.Tenant(http), id, cancellationToken) is { } paused ? TypedResults.Ok(api.View(paused)) : NotFound(id);

        public async Task<Results<Ok<TView>, ProblemHttpResult>> ResumeAsync(
            HttpContext http, Guid id, WebhookDeliveryLog<TContext> log, CancellationToken cancellationToken) =>
            await log.ResumeAsync(api.Tenant(http), id, cancellationToken) is { } resumed ? TypedResults.Ok(api.View(resumed)) : NotFound(id);

        public async Task<Results<Ok<DeliveryPage>, ValidationProblem, ProblemHttpResult>> DeliveriesAsync(
            HttpContext http, Guid id,
            [Description("A page's next, unchanged, to read the (older) page after it.")] string? before,
            [Description("Most deliveries in the page, 1 to 200 (default 50).")] string? limit,
            WebhookDeliveryLog<TContext> log, CancellationToken cancellationToken)
        {
            var (query, errors) = DeliveryLogQuery.Parse(before, limit);
            if (query is not { } page)
            {
                return TypedResults.ValidationProblem(errors);
            }

            return await log.DeliveriesAsync(api.Tenant(http), id, page.Before, page.Limit, cancellationToken) is { } deliveries
                ? TypedResults.Ok(deliveries)
                : NotFound(id);
        }

        public async Task<Results<Accepted<DeliveryView>, ProblemHttpResult>> ReplayAsync(
            HttpContext http, Guid id, Guid deliveryId, WebhookDeliveryLog<TContext> log, CancellationToken cancellationToken) =>
            await log.ReplayAsync(api.Tenant(http), id, deliveryId, cancellationToken) is { } replay
                ? TypedResults.Accepted($"{api.Route}/{id}/deliveries", DeliveryView.Of(replay))
                : TypedResults.Problem($"No delivery {deliveryId} of subscription {id} exists for this {api.TenantNoun}.",
                    statusCode: StatusCodes.Status404NotFound, title: "Delivery not found.");

        private ProblemHttpResult NotFound(Guid id) =>
            TypedResults.Problem($"No webhook subscription {id} exists for this {api.TenantNoun}.",
                statusCode: StatusCodes.Status404NotFound, title: "Subscription not found.");
    }
}
