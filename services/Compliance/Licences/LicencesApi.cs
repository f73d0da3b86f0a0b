using Brokering.Contracts;
using Brokering.Compliance.Data;
using Brokering.Compliance.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Compliance.Licences;

/// <summary>Body of <c>POST /v1/licences</c>.</summary>
internal sealed record RecordLicenceRequest(
    string? Number,
    string? BuyerId,
    IReadOnlyList<string>? Skus,
    string? DestinationCountry,
    long? Quantity,
    DateTimeOffset? ValidFrom,
    DateTimeOffset? ValidUntil);

internal sealed record LicenceResponse(
    Guid Id, string Number, string BuyerId, IReadOnlyList<string> Skus, string DestinationCountry, long Quantity,
    long Drawn, long Remaining, DateTimeOffset ValidFrom, DateTimeOffset ValidUntil, DateTimeOffset RecordedAt, string? RecordedBy)
{
    public static LicenceResponse From(Licence licence, long drawn) => new(
        licence.Id, licence.Number, licence.BuyerId, licence.Skus, licence.DestinationCountry, licence.Quantity, drawn,
        licence.Quantity - drawn, licence.ValidFrom, licence.ValidUntil, licence.RecordedAt, licence.RecordedBy);
}

/// <summary>Licences on file: they turn LicenceRequired into Approved within their limits.</summary>
internal static class LicencesApi
{
    public static RouteGroupBuilder MapLicencesApi(this RouteGroupBuilder v1)
    {
        var licences = v1.MapGroup("/licences").WithTags("Licences").RequireAuthorization(BrokeringRoles.Oversight);
        licences.MapPost("/", RecordAsync).RequireAuthorization(BrokeringRoles.ComplianceOfficer).WithName("RecordLicence").WithSummary("Records a licence on file.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        licences.MapGet("/", ListAsync).WithName("ListLicences").WithSummary("Licences on file, optionally for one buyer.");
        licences.MapGet("/{id:guid}", GetAsync).WithName("GetLicence").WithSummary("One licence, with the units drawn.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    private static async Task<Results<Created<LicenceResponse>, ValidationProblem, ProblemHttpResult>> RecordAsync(
        RecordLicenceRequest request, HttpContext http, ComplianceDbContext db, ReferenceDataCache cache, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var number = errors.Text("number", request.Number, 128);
        var buyerId = errors.Text("buyerId", request.BuyerId, 256);
        var destination = errors.Country("destinationCountry", request.DestinationCountry);
        var snapshot = await cache.GetAsync(db, cancellationToken);
        var skus = new List<string>();
        if (request.Skus is not { Count: > 0 })
        {
            errors.Add("skus", "At least one SKU is required.");
        }
        else
        {
            for (var i = 0; i < request.Skus.Count; i++)
            {
                if (snapshot.Products.TryGetValue(request.Skus[i]?.Trim() ?? string.Empty, out var product))
                {
                    skus.Add(product.Sku);
                }
                else
                {
                    errors.Add($"skus[{i}]", $"Unknown SKU '{request.Skus[i]}': it is not in the catalogue.");
                }
            }
        }

        if (request.Quantity is not > 0 or > InputBounds.MaxQuantity)
        {
            errors.Add("quantity", $"The number of units covered must be between 1 and {InputBounds.MaxQuantity}.");
        }

        var now = time.GetUtcNow();
        var validFrom = (request.ValidFrom ?? now).ToUniversalTime();
        if (request.ValidUntil is not { } validUntil)
        {
            errors.Add("validUntil", "The end of validity is required.");
        }
        else if (validUntil <= validFrom)
        {
            errors.Add("validUntil", "Must be later than validFrom.");
        }

        if (errors.Any)
        {
            return errors.Problem();
        }

        var key = Licence.KeyOf(number!);
        if (await db.Licences.Where(licence => licence.NumberKey == key).Select(licence => licence.Number).FirstOrDefaultAsync(cancellationToken) is { } onFile)
        {
            return DuplicateKeys.Conflict(DuplicateKeys.LicenceNumber, $"Licence {onFile} is already on file.");
        }

        var recorded = new Licence
        {
            Id = Guid.CreateVersion7(now),
            Number = number!,
            NumberKey = key,
            BuyerId = buyerId!,
            Skus = [.. skus.Distinct(StringComparer.Ordinal)],
            DestinationCountry = destination!,
            Quantity = request.Quantity!.Value,
            ValidFrom = validFrom,
            ValidUntil = request.ValidUntil!.Value.ToUniversalTime(),
            RecordedAt = now,
            RecordedBy = Actor.Of(http),
        };
        db.Licences.Add(recorded);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/v1/licences/{recorded.Id}", LicenceResponse.From(recorded, 0));
    }

    private static async Task<Ok<IReadOnlyList<LicenceResponse>>> ListAsync(string? buyerId, ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var query = db.Licences.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(buyerId))
        {
            query = query.Where(licence => licence.BuyerId == buyerId);
        }

        var licences = await query.OrderBy(licence => licence.Number).ToListAsync(cancellationToken);
        var ids = licences.Select(licence => licence.Id).ToList();
        var drawn = await Drawn(db, ids, cancellationToken);
        return TypedResults.Ok<IReadOnlyList<LicenceResponse>>([.. licences.Select(licence => LicenceResponse.From(licence, drawn.GetValueOrDefault(licence.Id)))]);
    }

    private static async Task<Results<Ok<LicenceResponse>, ProblemHttpResult>> GetAsync(Guid id, ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var licence = await db.Licences.AsNoTracking().SingleOrDefaultAsync(candidate => candidate.Id == id, cancellationToken);
        if (licence is null)
        {
            return TypedResults.Problem($"No licence has id {id}.", statusCode: StatusCodes.Status404NotFound, title: "Unknown licence");
        }

        var drawn = await Drawn(db, [id], cancellationToken);
        return TypedResults.Ok(LicenceResponse.From(licence, drawn.GetValueOrDefault(id)));
    }

    private static Task<Dictionary<Guid, long>> Drawn(ComplianceDbContext db, List<Guid> ids, CancellationToken cancellationToken) =>
        db.LicenceDrawdowns
            .Where(drawdown => ids.Contains(drawdown.LicenceId))
            .GroupBy(drawdown => drawdown.LicenceId)
            .Select(group => new { LicenceId = group.Key, Quantity = group.Sum(drawdown => drawdown.Quantity) })
            .ToDictionaryAsync(group => group.LicenceId, group => group.Quantity, cancellationToken);
}
