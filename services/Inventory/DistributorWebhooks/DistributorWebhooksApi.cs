using Brokering.ServiceDefaults;
using Brokering.ServiceDefaults.Security;
using Brokering.Webhooks;

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
/// <param name="CreatedAt">When it was made; it receives the events recorded from the create answer on (given about a second later).</param>
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
    public static IEndpointRouteBuilder MapDistributorWebhooksApi(this IEndpointRouteBuilder app)
    {
        app.MapWebhookSubscriptions(new WebhookSubscriptionsApiDefinition<
            DistributorWebhooksDbContext, DistributorSubscriptionRequest, DistributorSubscriptionView, DistributorSubscriptionCreated, DistributorSubscriptionList>
        {
            Route = "/v1/distributor/webhooks/subscriptions",
            Tag = "Distributor webhooks",
            Policy = BrokeringRoles.Distributor,
            OperationNamePrefix = "Distributor",
            TenantNoun = "distributor",
            Tenant = Caller,
            Validate = (request, services) => Validate(request, services.GetRequiredService<WebhookRequestRules>()),
            CreateSummary = "Subscribes an HTTPS endpoint to events about the caller's own stock: holds placed, committed, released, expired, and order notices.",
            CreateDescription = "201 with the subscription and its signing secret, shown this once, given once the subscription is in effect on "
                + "every replica (about a second): every event recorded after the answer is delivered to it. Deliveries are signed the Standard Webhooks way "
                + "(webhook-id, webhook-timestamp, webhook-signature: v1,HMAC-SHA256 of id.timestamp.body), retried with back-off, sent in order "
                + "per reservation, and the subscription is paused after repeated failures. 400 names each bad field (an endpoint that is not "
                + "https, or on a private, loopback or link-local address, is refused); 409 when the distributor has as many subscriptions as it may.",
            TakesEffectWithin = SubscriptionPresence.Staleness,
            AroundCreate = CreateBoundAsync,
            AfterDelete = UnbindAfterTheLastAsync,
            View = DistributorSubscriptionView.Of,
            Created = (view, secret) => new DistributorSubscriptionCreated(view, secret),
            List = views => new DistributorSubscriptionList(views),
        });
        return app;
    }

    private static (ValidSubscription? Subscription, Dictionary<string, string[]> Errors) Validate(DistributorSubscriptionRequest? request, WebhookRequestRules rules)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (request is null)
        {
            errors["body"] = ["A JSON object with url and eventTypes."];
            return (null, errors);
        }

        var eventTypes = rules.Check(request.Url, request.EventTypes, request.Description, DistributorWebhookEventTypes.All, errors);
        return errors.Count > 0 ? (null, errors) : (new ValidSubscription(request.Url!, eventTypes, [], request.Description), errors);
    }

    // The recorder's queue receives the events only while subscriptions exist: bound before the subscription is, so every
    // event recorded after the answer reaches it; never a subscription made while the broker cannot bind.
    private static async Task<WebhookDeliveryLog<DistributorWebhooksDbContext>.Creation> CreateBoundAsync(
        HttpContext http, Func<CancellationToken, Task<WebhookDeliveryLog<DistributorWebhooksDbContext>.Creation>> create, CancellationToken cancellationToken)
    {
        try
        {
            return await http.RequestServices.GetRequiredService<DistributorWebhookBindings>().WhileBoundAsync(create, cancellationToken);
        }
        catch (WebhookQueueUnavailableException e)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Brokering.Inventory.DistributorWebhooks")
                .LogWarning(e, "A webhook subscription was refused: the broker did not bind {Queue} in time", DistributorWebhookRecorderDefinition.QueueName);
            return new WebhookDeliveryLog<DistributorWebhooksDbContext>.Creation.Unavailable(
                "Webhook events not ready", "The subscription was not made: the events could not be routed to it yet. Try again in a moment.");
        }
    }

    // The subscription is gone whatever follows; an unbind that fails leaves the queue bound, which costs the recorder
    // events it drops until a replica's next reconcile, and loses nobody anything.
    private static async Task UnbindAfterTheLastAsync(HttpContext http, CancellationToken cancellationToken)
    {
        try
        {
            await http.RequestServices.GetRequiredService<DistributorWebhookBindings>().ReconcileAsync(cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Brokering.Inventory.DistributorWebhooks")
                .LogWarning(e, "Unbinding {Queue} after a subscription's delete failed; a reconcile will", DistributorWebhookRecorderDefinition.QueueName);
        }
    }

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
        builder.Services.AddSingleton<SubscriptionPresence>();
        var broker = BrokerAddress.Parse(
            builder.Configuration.GetConnectionString("RabbitMq") ?? throw new InvalidOperationException("ConnectionStrings:RabbitMq is not configured."),
            "ConnectionStrings:RabbitMq");
        builder.Services.AddSingleton(sp => ActivatorUtilities.CreateInstance<DistributorWebhookBindings>(sp, broker));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DistributorWebhookBindings>());
        return builder;
    }
}
