using Brokering.Ordering.Buyers;
using Brokering.ServiceDefaults.Security;
using Brokering.Webhooks;

namespace Brokering.Ordering.Webhooks;

/// <summary>The buyers' webhook subscriptions: <c>/v1/webhooks/subscriptions</c>, each scoped to the caller's organisation.</summary>
public static class WebhooksApi
{
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        app.MapWebhookSubscriptions(new WebhookSubscriptionsApiDefinition<WebhooksDbContext, CreateSubscriptionRequest, SubscriptionView, SubscriptionCreated, SubscriptionList>
        {
            Route = "/v1/webhooks/subscriptions",
            Tag = "Webhooks",
            Policy = BrokeringRoles.Buyer,
            TenantNoun = "organisation",
            Tenant = BuyerIdentity.Of,
            Validate = (request, services) => services.GetRequiredService<WebhookRegistration>().Validate(request),
            StartingPoint = ReservationChangeFanOut.FeedHeadAsync,
            CreateSummary = "Subscribes an HTTPS endpoint to the caller's reservation events.",
            CreateDescription = "201 with the subscription and its signing secret, shown this once. 400 names each bad field (an endpoint "
                + "that is not https, or on a private, loopback or link-local address, is refused); 409 when the organisation has "
                + "as many subscriptions as it may.",
            View = SubscriptionView.Of,
            Created = (view, secret) => new SubscriptionCreated(view, secret),
            List = views => new SubscriptionList(views),
        })
            // A caller over its rate limit (ServiceDefaults RateLimits) is refused before the handler.
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return app;
    }
}
