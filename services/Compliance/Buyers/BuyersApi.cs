using Brokering.Compliance.Data;
using Brokering.Compliance.Infrastructure;
using Brokering.ServiceDefaults.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Compliance.Buyers;

/// <summary>Body of <c>PUT /v1/buyers/{buyerId}</c>.</summary>
internal sealed record RegisterBuyerRequest(string? LegalName, string? Country, UltimateParentRequest? UltimateParent);

/// <summary>The buyer's ultimate parent; omitted when the buyer is its own.</summary>
internal sealed record UltimateParentRequest(string? Name, string? HeadquartersCountry);

internal sealed record BuyerRegistrationResponse(
    Guid Id, string BuyerId, string LegalName, string Country, string? UltimateParentName, string? UltimateParentHeadquartersCountry,
    string RecordedBy, DateTimeOffset RecordedAt)
{
    public static BuyerRegistrationResponse From(BuyerRegistration registration) => new(
        registration.Id, registration.BuyerId, registration.LegalName, registration.Country, registration.ParentName,
        registration.ParentHeadquartersCountry, registration.RecordedBy, registration.RecordedAt);
}

/// <summary>The buyer's registration in force and every earlier one, newest first.</summary>
internal sealed record BuyerResponse(BuyerRegistrationResponse Current, IReadOnlyList<BuyerRegistrationResponse> History);

/// <summary>
/// The buyer registry: compliance officers record who a buyer organisation is and who owns it, so screening covers the
/// buyer and its ultimate parent (and the parent-headquarters rule) whatever the reservation says.
/// </summary>
internal static class BuyersApi
{
    public static RouteGroupBuilder MapBuyersApi(this RouteGroupBuilder v1)
    {
        var buyers = v1.MapGroup("/buyers").WithTags("Buyers").RequireAuthorization(BrokeringRoles.Oversight);
        buyers.MapPut("/{buyerId}", RegisterAsync).RequireAuthorization(BrokeringRoles.ComplianceOfficer).WithName("RegisterBuyer")
            .WithSummary("Records a buyer organisation's legal name, country and ultimate parent; earlier registrations are kept.");
        buyers.MapGet("/{buyerId}", GetAsync).WithName("GetBuyer").WithSummary("The buyer's registration in force and its history.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    private static async Task<Results<Ok<BuyerResponse>, ValidationProblem>> RegisterAsync(
        string buyerId, RegisterBuyerRequest request, HttpContext http, ComplianceDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var id = errors.Text("buyerId", buyerId, Brokering.Contracts.InputBounds.MaxTenantLength);
        var legalName = errors.Text("legalName", request.LegalName, 512);
        var country = errors.Country("country", request.Country);
        string? parentName = null, parentCountry = null;
        if (request.UltimateParent is { } parent)
        {
            parentName = errors.Text("ultimateParent.name", parent.Name, 512);
            parentCountry = errors.Country("ultimateParent.headquartersCountry", parent.HeadquartersCountry);
        }

        if (errors.Any)
        {
            return errors.Problem();
        }

        var now = time.GetUtcNow();
        db.BuyerRegistrations.Add(new BuyerRegistration
        {
            Id = Guid.CreateVersion7(now),
            BuyerId = id!,
            LegalName = legalName!,
            Country = country!,
            ParentName = parentName,
            ParentHeadquartersCountry = parentCountry,
            RecordedBy = Actor.Of(http),
            RecordedAt = now,
        });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(await ReadAsync(db, id!, cancellationToken) ?? throw new InvalidOperationException("A registration just saved was not found."));
    }

    private static async Task<Results<Ok<BuyerResponse>, ProblemHttpResult>> GetAsync(string buyerId, ComplianceDbContext db, CancellationToken cancellationToken) =>
        await ReadAsync(db, buyerId, cancellationToken) is { } buyer
            ? TypedResults.Ok(buyer)
            : TypedResults.Problem($"No registration is on file for buyer '{buyerId}'.", statusCode: StatusCodes.Status404NotFound, title: "Unknown buyer");

    private static async Task<BuyerResponse?> ReadAsync(ComplianceDbContext db, string buyerId, CancellationToken cancellationToken)
    {
        var history = await db.BuyerRegistrations.AsNoTracking()
            .Where(registration => registration.BuyerId == buyerId)
            .OrderByDescending(registration => registration.RecordedAt).ThenByDescending(registration => registration.Id)
            .ToListAsync(cancellationToken);
        return history.Count == 0 ? null : new BuyerResponse(BuyerRegistrationResponse.From(history[0]), [.. history.Select(BuyerRegistrationResponse.From)]);
    }

    /// <summary>The registration screening applies to <paramref name="buyerId"/>: the latest, or null when none is on file.</summary>
    public static Task<BuyerRegistration?> CurrentAsync(ComplianceDbContext db, string? buyerId, CancellationToken cancellationToken) =>
        string.IsNullOrWhiteSpace(buyerId)
            ? Task.FromResult<BuyerRegistration?>(null)
            : db.BuyerRegistrations.AsNoTracking()
                .Where(registration => registration.BuyerId == buyerId.Trim())
                .OrderByDescending(registration => registration.RecordedAt).ThenByDescending(registration => registration.Id)
                .FirstOrDefaultAsync(cancellationToken);
}
