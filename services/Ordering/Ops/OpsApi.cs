using System.Globalization;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Ops;

/// <summary>The ops API: watch every reservation saga, find the stuck and the at-risk ones, and act on them.</summary>
public static class OpsApi
{
    private const int MaxPageSize = 200;

    public static IEndpointRouteBuilder MapOpsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/ops").WithTags("Ops");
        group.MapGet("/sagas", ListAsync);
        group.MapGet("/sagas/{id:guid}", GetAsync);
        group.MapPost("/sagas/{id:guid}/cancel", CancelAsync);
        group.MapGet("/summary", SummaryAsync);
        return app;
    }

    public sealed record SagaRow(
        Guid Id, string State, string BuyerId, string DestinationCountry, DateTimeOffset SubmittedAt, DateTimeOffset UpdatedAt,
        DateTimeOffset? Cutoff, double? MinutesToCutoff, long UnitsRequested, long UnitsAllocated, string? StatusReason, IReadOnlyList<string> Skus);

    public sealed record SagaPage(IReadOnlyList<SagaRow> Items, int Page, int PageSize, int Total);

    public sealed record SagaDetail(SagaRow Saga, string? DecisionId, int PlanVersion, DateTimeOffset? HoldsExpireAt,
        IReadOnlyList<ReservationLine> Lines, IReadOnlyList<Allocation> Holds, IReadOnlyList<Transition> Timeline);

    public sealed record Summary(IReadOnlyDictionary<string, int> CountsByState, IReadOnlyList<SagaRow> NearestCutoffs, DateTimeOffset At);

    public sealed record OpsCancelRequest(string? Reason);

    private static async Task<Results<Ok<SagaPage>, ValidationProblem>> ListAsync(
        OrderingDbContext db, TimeProvider clock, CancellationToken cancellationToken,
        string? state = null, string? sku = null, string? buyer = null, string? distributor = null,
        int? atRiskWithin = null, int page = 1, int pageSize = 50)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (page < 1)
        {
            errors["page"] = ["Must be 1 or more."];
        }

        if (pageSize is < 1 or > MaxPageSize)
        {
            errors["pageSize"] = [$"Must be between 1 and {MaxPageSize}."];
        }

        if (atRiskWithin is < 0 or > 7 * 24 * 60)
        {
            errors["atRiskWithin"] = ["Minutes, between 0 and 10080."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var now = clock.GetUtcNow();
        var query = db.Sagas.AsNoTracking();
        if (!string.IsNullOrEmpty(state))
        {
            query = query.Where(s => s.CurrentState == state);
        }

        if (!string.IsNullOrEmpty(buyer))
        {
            query = query.Where(s => s.BuyerId == buyer);
        }

        if (atRiskWithin is { } minutes)
        {
            var horizon = now.AddMinutes(minutes);
            query = query.Where(s => s.Cutoff != null && s.Cutoff <= horizon && !ReservationStateMachine.TerminalStateNames.Contains(s.CurrentState));
        }

        // SKU and distributor live inside the jsonb lines and holds: filter those in memory after the
        // indexed filters have narrowed the set.
        var candidates = await query.OrderBy(s => s.Cutoff == null).ThenBy(s => s.Cutoff).ThenByDescending(s => s.UpdatedAt)
            .Take(5000).ToListAsync(cancellationToken);
        var filtered = candidates
            .Where(s => string.IsNullOrEmpty(sku) || s.Lines.Any(line => line.Sku == sku))
            .Where(s => string.IsNullOrEmpty(distributor) || s.Allocations.Any(hold => hold.DistributorId == distributor))
            .ToList();
        var items = filtered.Skip((page - 1) * pageSize).Take(pageSize).Select(s => Row(s, now)).ToList();
        return TypedResults.Ok(new SagaPage(items, page, pageSize, filtered.Count));
    }

    private static async Task<Results<Ok<SagaDetail>, ProblemHttpResult>> GetAsync(Guid id, OrderingDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var saga = await db.Sagas.AsNoTracking().SingleOrDefaultAsync(s => s.CorrelationId == id, cancellationToken);
        return saga is null
            ? NotFound(id)
            : TypedResults.Ok(new SagaDetail(Row(saga, clock.GetUtcNow()), saga.DecisionId, saga.PlanVersion, saga.HoldsExpireAt, saga.Lines, saga.Allocations, saga.History));
    }

    private static async Task<Results<Accepted, ValidationProblem, ProblemHttpResult>> CancelAsync(
        Guid id, OpsCancelRequest request, OrderingDbContext db, IPublishEndpoint publish, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Reason) || request.Reason.Length > 500)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["A reason (at most 500 characters) is required; it goes into the timeline."] });
        }

        var saga = await db.Sagas.AsNoTracking().SingleOrDefaultAsync(s => s.CorrelationId == id, cancellationToken);
        if (saga is null)
        {
            return NotFound(id);
        }

        if (ReservationStateMachine.TerminalStates.Contains(saga.CurrentState) || saga.CurrentState == "Confirming")
        {
            return TypedResults.Problem($"A saga that is {saga.CurrentState} can no longer be cancelled.", statusCode: StatusCodes.Status409Conflict);
        }

        await publish.Publish(new ReservationCancellationRequested(id, request.Reason, "ops", clock.GetUtcNow()), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Accepted($"/v1/ops/sagas/{id}");
    }

    private static async Task<Ok<Summary>> SummaryAsync(OrderingDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var counts = await db.Sagas.AsNoTracking().GroupBy(s => s.CurrentState)
            .Select(group => new { State = group.Key, Count = group.Count() })
            .ToDictionaryAsync(group => group.State, group => group.Count, cancellationToken);
        var nearest = await db.Sagas.AsNoTracking()
            .Where(s => s.Cutoff != null && !ReservationStateMachine.TerminalStateNames.Contains(s.CurrentState))
            .OrderBy(s => s.Cutoff).Take(10).ToListAsync(cancellationToken);
        return TypedResults.Ok(new Summary(counts, [.. nearest.Select(s => Row(s, now))], now));
    }

    private static SagaRow Row(ReservationState saga, DateTimeOffset now) => new(
        saga.CorrelationId, saga.CurrentState, saga.BuyerId, saga.DestinationCountry, saga.SubmittedAt, saga.UpdatedAt, saga.Cutoff,
        saga.Cutoff is { } cutoff ? Math.Round((cutoff - now).TotalMinutes, 2) : null,
        saga.UnitsRequested, saga.UnitsAllocated, saga.StatusReason, [.. saga.Lines.Select(line => line.Sku)]);

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(string.Create(CultureInfo.InvariantCulture, $"No saga {id}."), statusCode: StatusCodes.Status404NotFound, title: "Saga not found.");
}
