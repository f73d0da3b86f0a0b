using Microsoft.AspNetCore.Http.HttpResults;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Inventory.Offers;

internal static class OffersApi
{
    public static IEndpointRouteBuilder MapOffersApi(this IEndpointRouteBuilder app)
    {
        // The REST mirror of HoldsLedger/GetOffers: fresh distributors without an open feed gap only, cheapest first.
        app.MapGet("/v1/skus/{sku}/offers", async Task<Ok<IReadOnlyList<OfferView>>> (string sku, OfferQuery offers, CancellationToken cancellationToken) =>
                TypedResults.Ok(await offers.GetAsync(sku, cancellationToken)))
            .WithTags("Offers")
            .WithName("GetOffers")
            .RequireAuthorization(BrokeringRoles.Platform);
        return app;
    }
}
