using Brokering.Inventory.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Inventory.Holds;

/// <summary>A hold as stored; <paramref name="BuyerOrganisation"/> is null for holds placed before ordering named it.</summary>
public sealed record HoldView(
    Guid Id, Guid ReservationId, int PlanVersion, string DistributorId, string Sku, string Warehouse, long Quantity,
    decimal UnitPrice, string Currency, HoldStatus Status, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt, DateTimeOffset? ClosedAt, string? Reason,
    string? BuyerOrganisation);

internal static class HoldsApi
{
    public static IEndpointRouteBuilder MapHoldsApi(this IEndpointRouteBuilder app)
    {
        // Read-only: holds change only through the HoldsLedger gRPC service.
        app.MapGet("/v1/reservations/{reservationId:guid}/holds", async Task<Ok<List<HoldView>>> (Guid reservationId, InventoryDbContext db, CancellationToken cancellationToken) =>
                TypedResults.Ok(await db.Holds.AsNoTracking()
                    .Where(h => h.ReservationId == reservationId)
                    .OrderBy(h => h.CreatedAt).ThenBy(h => h.Id)
                    .Select(h => new HoldView(
                        h.Id, h.ReservationId, h.PlanVersion, h.DistributorId, h.Sku, h.Warehouse, h.Quantity,
                        h.UnitPrice, h.Currency, h.Status, h.ExpiresAt, h.CreatedAt, h.ClosedAt, h.Reason, h.BuyerOrganisation))
                    .ToListAsync(cancellationToken)))
            .WithTags("Holds")
            .RequireAuthorization(BrokeringRoles.Platform)
            .WithName("GetReservationHolds");
        return app;
    }
}
