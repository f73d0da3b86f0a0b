using System.Text.RegularExpressions;
using Brokering.Inventory.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Inventory.Distributors;

/// <summary>Registers a distributor.</summary>
/// <param name="Id">Short, stable id: lower-case letters, digits, '-' and '_'.</param>
/// <param name="Name">Display name.</param>
public sealed record RegisterDistributorRequest(string? Id, string? Name);

/// <summary>A distributor and where its feed stands.</summary>
public sealed record DistributorView(string Id, string Name, long LastSequence, DateTimeOffset? LastFeedAt, bool Stale, bool GapOpen);

internal static partial class DistributorsApi
{
    public static IEndpointRouteBuilder MapDistributorsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/distributors").WithTags("Distributors");
        group.MapPost("/", RegisterAsync).WithName("RegisterDistributor").RequireAuthorization(BrokeringRoles.Ops);
        group.MapGet("/", ListAsync).WithName("ListDistributors");
        group.MapGet("/{id}", GetAsync).WithName("GetDistributor");
        return app;
    }

    private static async Task<Results<Created<DistributorView>, Ok<DistributorView>, ValidationProblem, ProblemHttpResult>> RegisterAsync(
        RegisterDistributorRequest request, InventoryDbContext db, TimeProvider time, IOptions<InventoryOptions> options, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var id = request.Id?.Trim() ?? string.Empty;
        var name = request.Name?.Trim() ?? string.Empty;
        if (!IdPattern().IsMatch(id))
        {
            errors["id"] = ["id is required: 1 to 64 lower-case letters, digits, '-' or '_'."];
        }

        if (name.Length is 0 or > 200)
        {
            errors["name"] = ["name is required (at most 200 characters)."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var now = time.GetUtcNow();
        var inserted = await db.Database.ExecuteSqlAsync(
            $"INSERT INTO distributors (id, name, last_sequence, gap_open, created_at) VALUES ({id}, {name}, 0, false, {now}) ON CONFLICT (id) DO NOTHING",
            cancellationToken);
        var distributor = await db.Distributors.AsNoTracking().SingleAsync(d => d.Id == id, cancellationToken);
        var view = ToView(distributor, now, options.Value);
        if (inserted == 1)
        {
            return TypedResults.Created($"/v1/distributors/{id}", view);
        }

        return distributor.Name == name
            ? TypedResults.Ok(view)
            : TypedResults.Problem(
                $"Distributor '{id}' is already registered as '{distributor.Name}'.", statusCode: StatusCodes.Status409Conflict, title: "Distributor exists");
    }

    private static async Task<Ok<List<DistributorView>>> ListAsync(
        InventoryDbContext db, TimeProvider time, IOptions<InventoryOptions> options, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var distributors = await db.Distributors.AsNoTracking().OrderBy(d => d.Id).ToListAsync(cancellationToken);
        return TypedResults.Ok(distributors.Select(d => ToView(d, now, options.Value)).ToList());
    }

    private static async Task<Results<Ok<DistributorView>, NotFound>> GetAsync(
        string id, InventoryDbContext db, TimeProvider time, IOptions<InventoryOptions> options, CancellationToken cancellationToken)
    {
        var distributor = await db.Distributors.AsNoTracking().SingleOrDefaultAsync(d => d.Id == id, cancellationToken);
        return distributor is null ? TypedResults.NotFound() : TypedResults.Ok(ToView(distributor, time.GetUtcNow(), options.Value));
    }

    private static DistributorView ToView(Distributor d, DateTimeOffset now, InventoryOptions options)
    {
        var freshness = DistributorFeed.Of(d, now, options.StaleAfter);
        return new(d.Id, d.Name, d.LastSequence, d.LastFeedAt, freshness.Stale, d.GapOpen);
    }

    [GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial Regex IdPattern();
}
