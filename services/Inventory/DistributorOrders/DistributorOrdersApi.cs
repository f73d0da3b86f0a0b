using System.ComponentModel;
using Brokering.ServiceDefaults.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Brokering.Inventory.DistributorOrders;

/// <summary>
/// <c>/v1/distributor/…</c>: the calling distributor's own holds and orders, for its ERP. The distributor is the one its
/// token names (the <c>tenant</c> claim); there is no distributor id in the path to get wrong.
/// </summary>
internal static class DistributorOrdersApi
{
    public static IEndpointRouteBuilder MapDistributorOrdersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/distributor").WithTags("Distributor orders").RequireAuthorization(BrokeringRoles.Distributor);
        group.MapGet("/holds", HoldsAsync)
            .WithName("ListDistributorHolds")
            .WithSummary("The caller's holds: units of its stock held for a buyer's reservation, oldest first, a page at a time.")
            .WithDescription("Filters combine (all must hold). Keyset-paginated by (held at, hold id): pass a page's next as cursor "
                + "for the following page, or keep polling with the last next to read new holds as they come.");
        group.MapGet("/orders", OrdersAsync)
            .WithName("ListDistributorOrders")
            .WithSummary("The caller's orders: the holds of one reservation that one commit made firm, oldest first, a page at a time.")
            .WithDescription("Each order names the buyer organisation, the reservation, when it was committed and its lines (SKU, "
                + "warehouse, units, unit price). Keyset-paginated by (committed at, reservation id). A commit revoked later "
                + "(the cutoff moved while it was in flight) releases its holds and the order leaves the list.");
        return app;
    }

    private static async Task<Results<Ok<DistributorHoldsPage>, ValidationProblem>> HoldsAsync(
        HttpContext http, DistributorLedger ledger,
        [Description("Only these statuses: held, committed, released, expired, shortfall; repeat the parameter or separate with commas.")] string[]? status,
        [Description("Only holds of this SKU (any spelling the catalogue accepts).")] string? sku,
        [Description("Only holds placed at or after this ISO 8601 instant.")] string? since,
        [Description("Most holds in the page, 1 to 200 (default 50).")] string? limit,
        [Description("A page's next, unchanged, to read the page after it.")] string? cursor,
        CancellationToken cancellationToken)
    {
        var (query, errors) = DistributorListQuery.Parse(DistributorCursor.HoldsList, status, sku, since, limit, cursor);
        return query is null
            ? TypedResults.ValidationProblem(errors)
            : TypedResults.Ok(await ledger.HoldsAsync(Caller(http), query, cancellationToken));
    }

    private static async Task<Results<Ok<DistributorOrdersPage>, ValidationProblem>> OrdersAsync(
        HttpContext http, DistributorLedger ledger,
        [Description("Only orders with a line of this SKU (any spelling the catalogue accepts).")] string? sku,
        [Description("Only orders committed at or after this ISO 8601 instant.")] string? since,
        [Description("Most orders in the page, 1 to 200 (default 50).")] string? limit,
        [Description("A page's next, unchanged, to read the page after it.")] string? cursor,
        CancellationToken cancellationToken)
    {
        var (query, errors) = DistributorListQuery.Parse(DistributorCursor.OrdersList, null, sku, since, limit, cursor);
        return query is null
            ? TypedResults.ValidationProblem(errors)
            : TypedResults.Ok(await ledger.OrdersAsync(Caller(http), query, cancellationToken));
    }

    // The distributor policy admits only tokens with a tenant claim.
    private static string Caller(HttpContext http) =>
        http.User.FindFirst(BrokeringRoles.TenantClaim)?.Value
        ?? throw new InvalidOperationException("A distributor token without a tenant claim passed the distributor policy.");
}
