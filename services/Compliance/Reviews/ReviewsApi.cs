using Brokering.Compliance.Decisions;
using Brokering.Compliance.Infrastructure;
using Brokering.Compliance.Screening;
using Brokering.ServiceDefaults.Paging;
using Brokering.ServiceDefaults.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Brokering.Compliance.Reviews;

/// <summary>Body of <c>POST /v1/reviews/{decisionId}/clear</c> and <c>/confirm</c>.</summary>
/// <param name="Reason">Why, in the officer's words (required; kept with the ruling).</param>
internal sealed record RulingRequest(string? Reason);

/// <summary>
/// A resemblance under review: who, to which entry, how close. To a caller who is not a compliance officer (an operator
/// watching the queue) only <c>Role</c> and <c>QueriedName</c> are given; the entry, the score, the thresholds, the list
/// and whether the name mixes scripts are null, as they are everywhere else outside the officers' API.
/// </summary>
internal sealed record ReviewMatchResponse(
    string Role, string QueriedName, Guid? EntryId, string? EntryName, string? MatchedName, double? Score, double? ReviewThreshold,
    double? Threshold, string? List, bool? MixesScripts);

/// <summary>
/// An open potential match. <c>Cutoff</c>: the reservation's earliest cutoff as screening found it, after which the
/// reservation ends unconfirmed; <c>DecideBy</c>: when ordering stops waiting for screening (its screening deadline), when
/// ordering said; <c>Due</c>: the earlier of the two, after which a ruling comes too late (the reservation fails closed).
/// <c>EvidenceWithheld</c>: the caller is not a compliance officer, so each match names the party and the name screened
/// but not what it resembles nor how closely.
/// </summary>
internal sealed record ReviewResponse(
    Guid DecisionId,
    string ReservationId,
    string BuyerId,
    DateTimeOffset FiledAt,
    DateTimeOffset? Cutoff,
    DateTimeOffset? DecideBy,
    DateTimeOffset? Due,
    ScreeningParty? EndUser,
    string? DestinationCountry,
    IReadOnlyList<string> Skus,
    string? RuleSetVersion,
    string? ListVersion,
    IReadOnlyList<ReviewMatchResponse> Matches,
    bool EvidenceWithheld)
{
    public static ReviewResponse From(ScreeningDecision decision, bool withEvidence)
    {
        var evidence = decision.Evidence;
        var decideBy = evidence.Inputs.DecideBy;
        DateTimeOffset? due = decision.EarliestCutoff is { } cutoff && !(decideBy <= cutoff) ? cutoff : decideBy;
        return new ReviewResponse(
            decision.Id, decision.ReservationId, decision.BuyerId, decision.DecidedAt, decision.EarliestCutoff, decideBy, due,
            evidence.Inputs.EndUser, evidence.Inputs.DestinationCountry, [.. evidence.Lines.Select(line => line.Sku)],
            decision.RuleSetVersion, decision.ListVersion,
            [.. evidence.Matches.Where(match => match.Potential && !match.Cleared).Select(match => withEvidence
                ? new ReviewMatchResponse(
                    match.Role, match.QueriedName, match.EntryId, match.EntryName, match.MatchedName, match.Score, match.ReviewThreshold,
                    match.Threshold, match.List, match.MixesScripts)
                : new ReviewMatchResponse(match.Role, match.QueriedName, null, null, null, null, null, null, null, null))],
            !withEvidence);
    }
}

/// <summary>The open potential matches, oldest first.</summary>
internal sealed record ReviewQueueResponse(IReadOnlyList<ReviewResponse> Reviews);

/// <summary>A ruling as recorded, and the decision it filed (told to ordering).</summary>
internal sealed record RulingResponse(
    Guid DecisionId, string ReservationId, string Ruling, string Reason, string RuledBy, DateTimeOffset RuledAt,
    Guid RulingDecisionId, string RulingOutcome, DateTimeOffset? Cutoff);

/// <summary><c>/v1/reviews</c>: the officers' review desk for potential matches (see <see cref="ReviewDesk"/>).</summary>
internal static class ReviewsApi
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 500;

    public static RouteGroupBuilder MapReviewsApi(this RouteGroupBuilder v1)
    {
        // Officers rule. Operators may watch the queue (the ops console shows it with its deadlines), but only officers see
        // the entry a party resembles and the score, which would teach an evader.
        var reviews = v1.MapGroup("/reviews").WithTags("Reviews");
        reviews.MapGet("/", QueueAsync)
            .RequireAuthorization(BrokeringRoles.Oversight)
            .WithName("ListReviews")
            .WithSummary("Open potential matches awaiting an officer, oldest first (compliance officers; operators without the evidence).")
            .WithDescription("`limit` 1-500 (default 100). A potential match is a party whose name scores in the review band "
                + "(at or above Compliance:ReviewThreshold, below Compliance:MatchThreshold). It leaves the queue when ruled on or "
                + "when the reservation is screened again. To an operator (role ops without compliance-officer) each match names "
                + "the party and the name screened only, and `evidenceWithheld` is true.");
        reviews.MapPost("/{decisionId}/clear", (string decisionId, RulingRequest? request, HttpContext http, ReviewDesk desk, CancellationToken cancellationToken) =>
                RuleAsync(decisionId, ReviewRuling.Cleared, request, http, desk, cancellationToken))
            .RequireAuthorization(BrokeringRoles.ComplianceOfficer)
            .WithName("ClearReview")
            .WithSummary("Clears a potential match as a false positive, with a reason: the reservation is screened again with the "
                + "resemblance set aside, and the decision told to ordering.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        reviews.MapPost("/{decisionId}/confirm", (string decisionId, RulingRequest? request, HttpContext http, ReviewDesk desk, CancellationToken cancellationToken) =>
                RuleAsync(decisionId, ReviewRuling.Confirmed, request, http, desk, cancellationToken))
            .RequireAuthorization(BrokeringRoles.ComplianceOfficer)
            .WithName("ConfirmReview")
            .WithSummary("Confirms a potential match as the listed party, with a reason: a denial is filed and told to ordering.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return v1;
    }

    private static async Task<Results<Ok<ReviewQueueResponse>, ValidationProblem>> QueueAsync(
        string? limit, HttpContext http, ReviewDesk desk, CancellationToken cancellationToken)
    {
        if (!PageParameters.TryReadLimit(limit, DefaultLimit, MaxLimit, out var pageSize))
        {
            var errors = new ValidationErrors();
            errors.Add("limit", $"A limit is a whole number from 1 to {MaxLimit}.");
            return errors.Problem();
        }

        var open = await desk.QueueAsync(pageSize, cancellationToken);
        var officer = http.User.IsInRole(BrokeringRoles.ComplianceOfficer);
        return TypedResults.Ok(new ReviewQueueResponse([.. open.Select(decision => ReviewResponse.From(decision, withEvidence: officer))]));
    }

    private static async Task<Results<Ok<RulingResponse>, ValidationProblem, ProblemHttpResult>> RuleAsync(
        string decisionId, string ruling, RulingRequest? request, HttpContext http, ReviewDesk desk, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (!Guid.TryParse(decisionId, out var id))
        {
            errors.Add("decisionId", $"'{decisionId}' is not a decision id.");
        }

        var reason = errors.Text("reason", request?.Reason, Brokering.Contracts.InputBounds.MaxFreeTextLength, multiline: true);
        if (errors.Any)
        {
            return errors.Problem();
        }

        return await desk.RuleAsync(id, ruling, reason!, Actor.Of(http), cancellationToken) switch
        {
            RulingResult.Ruled(var review, var filed) => TypedResults.Ok(new RulingResponse(
                review.DecisionId, review.ReservationId, review.Ruling, review.Reason, review.RuledBy, review.RuledAt,
                filed.Id, filed.Outcome, filed.EarliestCutoff)),
            RulingResult.UnknownDecision => TypedResults.Problem(
                $"No decision {id} was ever taken.", statusCode: StatusCodes.Status404NotFound, title: "Unknown decision"),
            RulingResult.NotUnderReview(var outcome) => TypedResults.Problem(
                $"Decision {id} is {outcome}, not a potential match: there is nothing to review.", statusCode: StatusCodes.Status409Conflict,
                title: "Not under review"),
            RulingResult.AlreadyRuled(var earlier) => TypedResults.Problem(
                $"Decision {id} was already {earlier.Ruling.ToLowerInvariant()} by {earlier.RuledBy} at {earlier.RuledAt:O} (ruling decision {earlier.RulingDecisionId}).",
                statusCode: StatusCodes.Status409Conflict, title: "Already ruled on"),
            RulingResult.Superseded(var later) => TypedResults.Problem(
                $"The reservation was screened again since decision {id} (decision {later}); review that one if it is open.",
                statusCode: StatusCodes.Status409Conflict, title: "Superseded"),
            RulingResult.ReservationEnded(var outcome, var endedAt) => TypedResults.Problem(
                $"The reservation of decision {id} ended {outcome} at {endedAt:O}: there is no sale left to rule on.",
                statusCode: StatusCodes.Status409Conflict, title: "Reservation ended"),
            _ => throw new InvalidOperationException("Unknown ruling result."),
        };
    }
}
