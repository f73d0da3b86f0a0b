using System.Globalization;
using Brokering.Contracts;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using Brokering.ServiceDefaults.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Ops;

/// <summary>
/// The ops API: watch every reservation saga, find the stuck and the at-risk ones, and act on them.
/// Everything is under <c>/v1/ops</c>, so one authorization policy (the ops role) covers it.
/// </summary>
public static partial class OpsApi
{
    public const int MaxReasonLength = 500;
    public const int DefaultAtRiskMinutes = 15;
    private const int MaxPageSize = 200;

    // Far past any page there is, and low enough that the rows skipped, (page - 1) × page size, stay a 32-bit count: past
    // it the product overflowed into a negative skip and the listing failed with a 500.
    private const int MaxPage = 1_000_000;
    private const int MaxAtRiskMinutes = 7 * 24 * 60;
    private const int NearestCutoffs = 10;

    /// <summary>Who the saga is told asked (the buyer sees it); the operator's own name goes into the ops audit.</summary>
    private const string OpsRequester = "ops";
    private static readonly TimeSpan StreamInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan StreamHeartbeat = TimeSpan.FromSeconds(15);

    /// <summary>Which ops action works in which state: read from the saga (see <see cref="ReservationStates.OpsActionsIn"/>).</summary>
    private static ReservationStates States => ReservationStates.Declared;

    /// <summary>The ended states, as an array for queries.</summary>
    private static readonly string[] Ended = [.. ReservationStates.Declared.Terminal];

    public static IEndpointRouteBuilder MapOpsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/ops").WithTags("Ops").RequireAuthorization(BrokeringRoles.Ops);
        group.MapGet("/sagas", ListAsync);
        group.MapGet("/sagas/{id:guid}", GetAsync).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/sagas/{id:guid}/cancel", CancelAsync).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/sagas/{id:guid}/release-holds", ReleaseHoldsAsync).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/sagas/{id:guid}/rescreen", RescreenAsync).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/summary", SummaryAsync);
        group.MapGet("/stream", Stream).RequireRateLimiting(RateLimits.StreamPolicy);
        group.MapGet("/states", () => TypedResults.Ok(StatesView.Of(States)));
        group.MapGet("/state-machine", (StateMachineDiagram diagram) => TypedResults.Ok(new StateMachineView(diagram.States, diagram.Transitions, diagram.ToMermaid(), States.Spine)));
        group.MapGet("/state-machine.mmd", (StateMachineDiagram diagram) => TypedResults.Text(diagram.ToMermaid(), "text/plain; charset=utf-8"))
            .Produces<string>(StatusCodes.Status200OK, "text/plain");
        return app;
    }

    public sealed record SagaRow(
        Guid Id, string State, string BuyerId, string DestinationCountry, DateTimeOffset SubmittedAt, DateTimeOffset UpdatedAt,
        DateTimeOffset? Cutoff, double? MinutesToCutoff, long UnitsRequested, long UnitsAllocated, string? StatusReason,
        IReadOnlyList<string> Skus, IReadOnlyList<string> Distributors);

    public sealed record SagaPage(IReadOnlyList<SagaRow> Items, int Page, int PageSize, int Total);

    /// <summary>A saga with everything an operator needs to judge it.</summary>
    /// <param name="Saga">The row as in lists.</param>
    /// <param name="DecisionId">Compliance's decision (evidence kept by compliance: <c>GET /v1/decisions/{reservationId}</c>).</param>
    /// <param name="PlanVersion">Allocation plan version.</param>
    /// <param name="HoldsExpireAt">When the holds lapse unless committed.</param>
    /// <param name="Lines">What the buyer asked for.</param>
    /// <param name="Holds">Every allocation (hold, or committed units once Confirmed).</param>
    /// <param name="HoldsByDistributor">The same, per distributor.</param>
    /// <param name="Timeline">State changes and operator actions, oldest first.</param>
    /// <param name="Actions">What an operator may do now, and what each would do.</param>
    public sealed record SagaDetail(SagaRow Saga, string? DecisionId, int PlanVersion, DateTimeOffset? HoldsExpireAt,
        IReadOnlyList<ReservationLine> Lines, IReadOnlyList<Allocation> Holds, IReadOnlyList<DistributorHolds> HoldsByDistributor,
        IReadOnlyList<TimelineEntry> Timeline, IReadOnlyList<AvailableAction> Actions);

    public sealed record DistributorHolds(string DistributorId, long Units, IReadOnlyList<Allocation> Holds);

    /// <summary>One step of the ops timeline.</summary>
    /// <param name="At">When.</param>
    /// <param name="Kind"><c>Transition</c> (the saga moved) or <c>OpsAction</c> (an operator acted).</param>
    /// <param name="Event">The saga event, or the operator's action.</param>
    /// <param name="From">State before (transitions), or the state the operator saw (actions).</param>
    /// <param name="To">State after (transitions only).</param>
    /// <param name="Detail">The saga's reason, or the operator's.</param>
    /// <param name="Actor">Who acted (actions only).</param>
    /// <param name="Effect">What the action did (actions only).</param>
    public sealed record TimelineEntry(DateTimeOffset At, string Kind, string Event, string? From, string? To, string? Detail, string? Actor, string? Effect);

    public sealed record AvailableAction(string Action, string Path, string Effect);

    /// <summary>The live overview.</summary>
    /// <param name="CountsByState">Sagas per state (every state, zero included).</param>
    /// <param name="InFlight">Sagas not yet ended.</param>
    /// <param name="AtRisk">Sagas in flight whose cutoff is within <paramref name="AtRiskWithin"/> minutes (or past).</param>
    /// <param name="AtRiskWithin">The horizon, minutes.</param>
    /// <param name="NextCutoff">The nearest cutoff of a saga in flight.</param>
    /// <param name="NearestCutoffs">The sagas in flight with the nearest cutoffs.</param>
    /// <param name="StockFreshness">How fresh each distributor's stock feed is, as inventory reports it.</param>
    /// <param name="At">Ordering's clock when this was computed.</param>
    public sealed record Summary(
        IReadOnlyDictionary<string, int> CountsByState, int InFlight, int AtRisk, int AtRiskWithin,
        DateTimeOffset? NextCutoff, IReadOnlyList<SagaRow> NearestCutoffs, StockFreshness StockFreshness, DateTimeOffset At);

    public sealed record OpsActionRequest(string? Reason);

    public sealed record OpsActionAccepted(Guid ActionId, Guid ReservationId, string Action, string Effect, string StateAtRequest);

    /// <summary>The reservation states and what works in each, as the saga declares them (the console reads its lists from here).</summary>
    /// <param name="Initial">The state before the saga has picked a reservation up.</param>
    /// <param name="Live">States a reservation is in flight in, in the order the saga declares them.</param>
    /// <param name="Ended">States a reservation never leaves.</param>
    /// <param name="States">Every state, with what works in it.</param>
    public sealed record StatesView(string Initial, IReadOnlyList<string> Live, IReadOnlyList<string> Ended, IReadOnlyList<StateGates> States)
    {
        internal static StatesView Of(ReservationStates states) => new(states.Initial, states.Live, states.Terminal,
            [.. states.All.Select(state => new StateGates(
                state,
                states.Terminal.Contains(state),
                [.. states.OpsActionsIn(state).Select(action => action.ToString())],
                states.ReachedByRuleChange.Contains(state),
                states.Confirmable.Contains(state),
                states.BuyerCancellable.Contains(state),
                states.HoldingStock.Contains(state)))]);
    }

    /// <summary>What works in one state.</summary>
    /// <param name="Name">The state.</param>
    /// <param name="Ended">Whether the reservation has ended.</param>
    /// <param name="OpsActions">The ops actions that work in it (Cancel, ReleaseHolds, Rescreen).</param>
    /// <param name="ReachedByRuleChange">Whether a rule change (a moved cutoff, a listed party) re-screens it.</param>
    /// <param name="BuyerMayConfirm">Whether its buyer may confirm it.</param>
    /// <param name="BuyerMayCancel">Whether its buyer may cancel it.</param>
    /// <param name="HoldsStock">Whether its allocations are stock held or committed (they count against the buyer's cap).</param>
    public sealed record StateGates(string Name, bool Ended, IReadOnlyList<string> OpsActions, bool ReachedByRuleChange, bool BuyerMayConfirm, bool BuyerMayCancel, bool HoldsStock);

    /// <summary>The saga's diagram as the console draws it.</summary>
    /// <param name="States">Every state and the events it handles.</param>
    /// <param name="Transitions">Every arrow and the events that take it.</param>
    /// <param name="Mermaid">The same diagram as Mermaid text.</param>
    /// <param name="Spine">The way of a sale its buyer confirms, drawn straight (<see cref="ReservationStates.Spine"/>).</param>
    public sealed record StateMachineView(IReadOnlyList<DiagramState> States, IReadOnlyList<DiagramTransition> Transitions, string Mermaid, IReadOnlyList<string> Spine);

    private static async Task<Results<Ok<SagaPage>, ValidationProblem>> ListAsync(
        OrderingDbContext db, StateMachineDiagram diagram, TimeProvider clock, CancellationToken cancellationToken,
        string? state = null, string? sku = null, string? buyer = null, string? distributor = null,
        int? atRiskWithin = null, int page = 1, int pageSize = 50)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (page is < 1 or > MaxPage)
        {
            errors["page"] = [$"Must be between 1 and {MaxPage}."];
        }

        if (pageSize is < 1 or > MaxPageSize)
        {
            errors["pageSize"] = [$"Must be between 1 and {MaxPageSize}."];
        }

        if (atRiskWithin is < 0 or > MaxAtRiskMinutes)
        {
            errors["atRiskWithin"] = [$"Minutes, between 0 and {MaxAtRiskMinutes}."];
        }

        if (!string.IsNullOrEmpty(state) && !diagram.States.Any(s => s.Name == state))
        {
            errors["state"] = [$"One of {string.Join(", ", diagram.States.Select(s => s.Name))}."];
        }

        foreach (var (name, value) in new[] { ("sku", sku), ("buyer", buyer), ("distributor", distributor) })
        {
            if (value is { } text && (text.Length > 100 || !InputBounds.IsPlainText(text)))
            {
                errors[name] = ["At most 100 characters, no control characters."];
            }
        }

        // Lines hold SKUs in canonical spelling: a filter spelt as buyers may spell one (nvidia-h20) is read as the buyer list reads it.
        string? canonicalSku = null;
        if (!string.IsNullOrWhiteSpace(sku) && !errors.ContainsKey("sku") && !Brokering.Contracts.Sku.TryNormalize(sku, out canonicalSku))
        {
            errors["sku"] = [Brokering.Contracts.Sku.SpellingRule];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var now = clock.GetUtcNow();
        var terminal = Ended;
        sku = canonicalSku;
        distributor = NullIfEmpty(distributor);

        // SKU and distributor live inside the jsonb lines and allocations: filter them in SQL by containment,
        // so paging and totals stay exact however many sagas there are.
        var query = (sku is null && distributor is null
            ? db.Sagas
            : db.Sagas.FromSql($"""
                SELECT * FROM reservation_sagas
                WHERE ({sku}::text IS NULL OR lines @> jsonb_build_array(jsonb_build_object('sku', {sku}::text)))
                  AND ({distributor}::text IS NULL OR allocations @> jsonb_build_array(jsonb_build_object('distributorId', {distributor}::text)))
                """)).AsNoTracking();
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
            // At risk: not ended, and the cutoff is within the horizon (or already behind: those are the most at risk).
            var horizon = now.AddMinutes(minutes);
            query = query.Where(s => s.Cutoff != null && s.Cutoff <= horizon && !terminal.Contains(s.CurrentState));
        }

        var total = await query.CountAsync(cancellationToken);

        // Most urgent first: live sagas by cutoff, then ended ones, most recent first; the id keeps pages stable.
        var sagas = await query
            .OrderBy(s => terminal.Contains(s.CurrentState))
            .ThenBy(s => terminal.Contains(s.CurrentState) || s.Cutoff == null)
            .ThenBy(s => terminal.Contains(s.CurrentState) ? null : s.Cutoff)
            .ThenByDescending(s => s.UpdatedAt)
            .ThenBy(s => s.CorrelationId)
            .Skip((page - 1) * pageSize).Take(pageSize)
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new SagaPage([.. sagas.Select(s => Row(s, now))], page, pageSize, total));
    }

    private static async Task<Results<Ok<SagaDetail>, ProblemHttpResult>> GetAsync(
        Guid id, OrderingDbContext db, OpsActionLog log, TimeProvider clock, CancellationToken cancellationToken)
    {
        var saga = await db.Sagas.AsNoTracking().SingleOrDefaultAsync(s => s.CorrelationId == id, cancellationToken);
        if (saga is null)
        {
            return NotFound(id);
        }

        var actions = await log.OfAsync(id, cancellationToken);
        var timeline = saga.History
            .Select(step => (Order: 1, Entry: new TimelineEntry(step.At, "Transition", step.Event, step.From, step.To, step.Detail, null, null)))
            .Concat(actions.Select(action => (Order: 0, Entry: new TimelineEntry(
                action.RequestedAt, "OpsAction", action.Action, action.StateAtRequest, null, action.Reason, action.RequestedBy, action.Effect))))
            .OrderBy(x => x.Entry.At).ThenBy(x => x.Order)
            .Select(x => x.Entry)
            .ToList();
        var byDistributor = saga.Allocations
            .GroupBy(a => a.DistributorId, StringComparer.Ordinal)
            .Select(g => new DistributorHolds(g.Key, g.Sum(a => a.Quantity), [.. g]))
            .OrderByDescending(g => g.Units).ThenBy(g => g.DistributorId, StringComparer.Ordinal)
            .ToList();
        return TypedResults.Ok(new SagaDetail(Row(saga, clock.GetUtcNow()), saga.DecisionId, saga.PlanVersion, saga.HoldsExpireAt,
            saga.Lines, saga.Allocations, byDistributor, timeline, AvailableActions(saga.CurrentState, id)));
    }

    private static List<AvailableAction> AvailableActions(string state, Guid id) =>
    [
        .. States.OpsActionsIn(state).Select(action => action switch
        {
            OpsActionKind.Cancel => new AvailableAction("Cancel", $"/v1/ops/sagas/{id}/cancel", "Ends the reservation Cancelled; the saga releases its holds."),
            OpsActionKind.ReleaseHolds when States.ReleasedByCancelling.Contains(state) => new AvailableAction(
                "ReleaseHolds", $"/v1/ops/sagas/{id}/release-holds", "Releases the holds by cancelling the reservation (it cannot stay live on nothing)."),
            OpsActionKind.ReleaseHolds => new AvailableAction(
                "ReleaseHolds", $"/v1/ops/sagas/{id}/release-holds", $"Asks inventory again to release any hold left; the saga stays {state}."),
            OpsActionKind.Rescreen => new AvailableAction("Rescreen", $"/v1/ops/sagas/{id}/rescreen", "Asks compliance to screen it again; the saga applies the answer."),
            _ => throw new InvalidOperationException($"No available-action text for {action}."),
        }),
    ];

    private static SagaRow Row(ReservationState saga, DateTimeOffset now) => new(
        saga.CorrelationId, saga.CurrentState, saga.BuyerId, saga.DestinationCountry, saga.SubmittedAt, saga.UpdatedAt, saga.Cutoff,
        saga.Cutoff is { } cutoff ? Math.Round((cutoff - now).TotalMinutes, 2) : null,
        saga.UnitsRequested, saga.UnitsAllocated, saga.StatusReason, [.. saga.Lines.Select(line => line.Sku)],
        [.. saga.Allocations.Select(a => a.DistributorId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]);

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "The saga is not in a state that allows this.");

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(string.Create(CultureInfo.InvariantCulture, $"No saga {id}."), statusCode: StatusCodes.Status404NotFound, title: "Saga not found.");
}
