using System.Globalization;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using Brokering.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.ReviewDesk;

/// <summary>
/// <c>/v1/review-desk</c>: the console's view of compliance's review desk (potential matches awaiting a compliance
/// officer), each with where its reservation stands in ordering, and the officer's rulings passed on to compliance. The
/// caller's own token goes to compliance (<see cref="ComplianceReviews"/>): operators and officers may look (compliance
/// shows the listed entry and the score to officers only), only officers may rule, and compliance records the officer
/// from that token.
/// </summary>
public static class ReviewDeskApi
{
    /// <summary>Compliance's bound on a ruling's reason.</summary>
    public const int MaxReasonLength = 2000;

    /// <summary>Most reservations one dry run sends compliance (compliance's own bound).</summary>
    public const int MaxDryRunReservations = 2000;

    public static IEndpointRouteBuilder MapReviewDeskApi(this IEndpointRouteBuilder app)
    {
        var desk = app.MapGroup("/v1/review-desk").WithTags("Review desk");
        desk.MapGet("/", QueueAsync)
            .RequireAuthorization(BrokeringRoles.Oversight)
            .WithSummary("The potential matches awaiting a compliance officer, oldest first, with their reservations' states (ops and officers).")
            .WithDescription("Compliance's GET /v1/reviews with the caller's own token: officers see the evidence, operators the party "
                + "and the name screened only. While compliance cannot be reached, 200 with `unavailable` and no reviews.")
            .Produces<ReviewQueue>()
            .ProducesProblem(StatusCodes.Status403Forbidden);
        desk.MapPost("/rule-set-dry-run", DryRunAsync)
            .RequireAuthorization(BrokeringRoles.ComplianceOfficer)
            .WithSummary("Judges a rule set before it is published against every reservation in flight (officers): which would be refused or see their cutoff move.")
            .WithDescription("Body: `{ \"ruleSet\": <the body of compliance's POST /v1/rule-sets> }`. Ordering names the reservations in flight "
                + $"(oldest first, at most {MaxDryRunReservations}) and compliance judges each on its latest screening; nothing is published "
                + "or filed. The answer is compliance's, with `inFlight` (how many are in flight) and `judged` (how many were sent).")
            .Produces<System.Text.Json.JsonElement>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        MapRuling(desk, "clear", "Clears a potential match with a reason (officers): the reservation goes on.");
        MapRuling(desk, "confirm", "Confirms a potential match with a reason (officers): the reservation is Rejected.");
        return app;
    }

    private static void MapRuling(RouteGroupBuilder desk, string ruling, string summary) =>
        desk.MapPost($"/{{decisionId}}/{ruling}", (string decisionId, RulingRequest? request, HttpContext http, OrderingDbContext db, ComplianceReviews compliance, CancellationToken cancellationToken) =>
                RuleAsync(decisionId, ruling, request, http, db, compliance, cancellationToken))
            .RequireAuthorization(BrokeringRoles.ComplianceOfficer)
            .WithSummary(summary)
            .Produces<ComplianceRuling>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>Body of a ruling.</summary>
    /// <param name="Reason">Why, in the officer's words (required; kept by compliance with the ruling).</param>
    /// <param name="ReservationId">
    /// The reservation under review (required), the one the decision was filed for (400 for another): a ruling on one
    /// that has already ended is refused as too late.
    /// </param>
    public sealed record RulingRequest(string? Reason, Guid? ReservationId);

    /// <summary>A potential match with where its reservation stands.</summary>
    /// <param name="Review">As compliance gives it.</param>
    /// <param name="ReservationState">The reservation's state in ordering (UnderReview while it waits); null if ordering has no such reservation.</param>
    /// <param name="Ended">The reservation has ended (at its screening deadline or cutoff): a ruling would change nothing.</param>
    public sealed record ReviewRow(ComplianceReview Review, string? ReservationState, bool Ended);

    /// <summary>The queue.</summary>
    /// <param name="Reviews">Open potential matches, oldest first (empty while compliance cannot be reached).</param>
    /// <param name="MayRule">Whether the caller may rule (holds the compliance-officer role).</param>
    /// <param name="At">Ordering's clock, for the countdowns.</param>
    /// <param name="Unavailable">Why the queue could not be read (compliance unreachable, failing or too slow), or null.</param>
    public sealed record ReviewQueue(IReadOnlyList<ReviewRow> Reviews, bool MayRule, DateTimeOffset At, string? Unavailable);

    private static async Task<IResult> QueueAsync(
        HttpContext http, OrderingDbContext db, ComplianceReviews compliance, TimeProvider clock, CancellationToken cancellationToken)
    {
        var answer = await compliance.QueueAsync(ReviewDeskExtensions.BearerToken(http), cancellationToken);
        var mayRule = http.User.IsInRole(BrokeringRoles.ComplianceOfficer);
        switch (answer)
        {
            case ComplianceAnswer<IReadOnlyList<ComplianceReview>>.Refused refused:
                return Failed(refused, http, string.Empty);
            case ComplianceAnswer<IReadOnlyList<ComplianceReview>>.Unreachable(var detail, _):
                // As the overview's stock freshness: the page stays up and says the queue is not current.
                return TypedResults.Ok(new ReviewQueue([], mayRule, clock.GetUtcNow(), detail));
        }

        var reviews = ((ComplianceAnswer<IReadOnlyList<ComplianceReview>>.Answered)answer).Value;

        var ids = reviews.Select(review => Guid.TryParse(review.ReservationId, out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty).ToList();
        var states = await db.Sagas.AsNoTracking()
            .Where(saga => ids.Contains(saga.CorrelationId))
            .ToDictionaryAsync(saga => saga.CorrelationId.ToString(), saga => saga.CurrentState, StringComparer.OrdinalIgnoreCase, cancellationToken);
        var terminal = ReservationStates.Declared.Terminal;
        return TypedResults.Ok(new ReviewQueue(
            [.. reviews.Select(review => states.TryGetValue(review.ReservationId, out var state)
                ? new ReviewRow(review, state, terminal.Contains(state))
                : new ReviewRow(review, null, false))],
            mayRule,
            clock.GetUtcNow(),
            null));
    }

    private static async Task<IResult> RuleAsync(
        string decisionId, string ruling, RulingRequest? request, HttpContext http, OrderingDbContext db, ComplianceReviews compliance,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!Guid.TryParse(decisionId, out var decision))
        {
            errors["decisionId"] = [$"'{decisionId}' is not a decision id."];
        }

        if (string.IsNullOrWhiteSpace(request?.Reason) || request.Reason.Trim().Length > MaxReasonLength)
        {
            errors["reason"] = [$"A reason (at most {MaxReasonLength} characters) is required; compliance keeps it with the ruling."];
        }

        if (request?.ReservationId is null)
        {
            errors["reservationId"] = ["The reservation under review is required."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        // Compliance would file a ruling whatever became of the reservation; ordering knows whether it still waits. The
        // reservation judged is the decision's own: one named beside another's decision would have a live reservation
        // let a ruling on an ended one through (and an ended one refuse a ruling still wanted).
        var reservationId = request!.ReservationId!.Value;
        var token = ReviewDeskExtensions.BearerToken(http);
        var saga = await db.Sagas.AsNoTracking().SingleOrDefaultAsync(s => s.CorrelationId == reservationId, cancellationToken);
        if (!(Guid.TryParse(saga?.DecisionId, out var toldOf) && toldOf == decision))
        {
            // Not the decision the saga was told of (an earlier screening's, or another reservation's): compliance knows.
            var filed = await compliance.DecisionsOfAsync(reservationId, token, cancellationToken);
            if (filed is not ComplianceAnswer<IReadOnlyList<Guid>>.Answered(var decisions))
            {
                return Failed(filed, http, "Nothing was recorded; try again.");
            }

            if (!decisions.Contains(decision))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["reservationId"] = [$"Decision {decisionId} is not a screening of reservation {reservationId}: give the reservation the decision was filed for (the review's reservationId)."],
                });
            }
        }

        if (saga is not null && ReservationStates.Declared.Terminal.Contains(saga.CurrentState))
        {
            return TypedResults.Problem(
                string.Create(CultureInfo.InvariantCulture,
                    $"Reservation {reservationId} ended {saga.CurrentState} at {saga.UpdatedAt:u} ({saga.StatusReason}): a ruling now would change nothing, so none was recorded."),
                statusCode: StatusCodes.Status409Conflict, title: "Too late: the reservation has ended");
        }

        var answer = await compliance.RuleAsync(decisionId, ruling, request.Reason!.Trim(), token, cancellationToken);
        return answer is ComplianceAnswer<ComplianceRuling>.Answered(var recorded) ? TypedResults.Ok(recorded) : Failed(answer, http, "Nothing was recorded; try again.");
    }

    /// <summary>Body of a dry run.</summary>
    /// <param name="RuleSet">The rule set as it would be published (compliance's <c>POST /v1/rule-sets</c> body); compliance validates it.</param>
    public sealed record DryRunRequest(System.Text.Json.JsonElement? RuleSet);

    private static async Task<IResult> DryRunAsync(
        DryRunRequest? request, HttpContext http, OrderingDbContext db, ComplianceReviews compliance, CancellationToken cancellationToken)
    {
        if (request?.RuleSet is not { ValueKind: System.Text.Json.JsonValueKind.Object } ruleSet)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["ruleSet"] = ["The rule set to judge is required: the body compliance's POST /v1/rule-sets would take."],
            });
        }

        var live = ReservationStates.Declared.Live;
        var inFlight = db.Sagas.AsNoTracking().Where(saga => live.Contains(saga.CurrentState));
        var count = await inFlight.CountAsync(cancellationToken);
        var subjects = await inFlight
            .OrderBy(saga => saga.SubmittedAt).ThenBy(saga => saga.CorrelationId)
            .Take(MaxDryRunReservations)
            .Select(saga => new DryRunSubject(saga.CorrelationId.ToString(), saga.CurrentState))
            .ToListAsync(cancellationToken);
        var answer = await compliance.DryRunAsync(ruleSet, subjects, ReviewDeskExtensions.BearerToken(http), cancellationToken);
        if (answer is not ComplianceAnswer<System.Text.Json.JsonElement>.Answered(var judged))
        {
            return Failed(answer, http, "Nothing was published or filed; try again.");
        }

        var body = System.Text.Json.Nodes.JsonObject.Create(judged) ?? [];
        body["inFlight"] = count;
        body["judged"] = subjects.Count;
        return TypedResults.Content(body.ToJsonString(), "application/json");
    }

    private static IResult Failed<T>(ComplianceAnswer<T> answer, HttpContext http, string nothingDone) => answer switch
    {
        ComplianceAnswer<T>.Refused(var status, var contentType, var body) => TypedResults.Content(AsOurs(body, http), contentType, statusCode: status),
        ComplianceAnswer<T>.Unreachable(var detail, var mayHaveActed) => TypedResults.Problem(
            mayHaveActed
                ? $"{detail} The ruling may or may not have been recorded: the queue shows whether the review is still open."
                : $"{detail} {nothingDone}",
            statusCode: StatusCodes.Status503ServiceUnavailable, title: "Compliance is unavailable"),
        _ => throw new InvalidOperationException("An answer is not a failure."),
    };

    /// <summary>
    /// Compliance's problem as the caller's: its <c>instance</c> named compliance's path (<c>/v1/reviews/…</c>), which the
    /// caller never requested and cannot look up; the problem is about the caller's request, so it names that one.
    /// </summary>
    private static string AsOurs(string body, HttpContext http)
    {
        try
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(body) is System.Text.Json.Nodes.JsonObject problem)
            {
                problem["instance"] = http.Request.Path.Value;
                return problem.ToJsonString();
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: passed on as compliance gave it.
        }

        return body;
    }
}
