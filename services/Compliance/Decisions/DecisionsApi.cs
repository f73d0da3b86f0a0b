using Brokering.Compliance.Data;
using Brokering.Compliance.Screening;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Compliance.Decisions;

/// <summary>A stored decision with its evidence.</summary>
internal sealed record DecisionResponse(
    Guid Id,
    string ReservationId,
    string BuyerId,
    DateTimeOffset DecidedAt,
    string Outcome,
    string? RuleSetVersion,
    string? ListVersion,
    DateTimeOffset? EarliestCutoff,
    DecisionEvidence Evidence)
{
    public static DecisionResponse From(ScreeningDecision decision) => new(
        decision.Id, decision.ReservationId, decision.BuyerId, decision.DecidedAt, decision.Outcome, decision.RuleSetVersion,
        decision.ListVersion, decision.EarliestCutoff, decision.Evidence);
}

/// <summary>Every screening decision of a reservation, oldest first.</summary>
internal sealed record ReservationDecisionsResponse(string ReservationId, IReadOnlyList<DecisionResponse> Decisions);

/// <summary><c>GET /v1/decisions/{reservationId}</c>: the evidence of every screening of a reservation.</summary>
internal static class DecisionsApi
{
    public static RouteGroupBuilder MapDecisionsApi(this RouteGroupBuilder v1)
    {
        // Officers only: the evidence names the list entry a party matched and the score, which is for the officers who
        // decide on matches, not for operators (nor, through them, for the buyer).
        v1.MapGroup("/decisions").WithTags("Decisions").RequireAuthorization(BrokeringRoles.ComplianceOfficer)
            .MapGet("/{reservationId}", GetAsync)
            .WithName("GetDecisions")
            .WithSummary("Every screening decision of a reservation with its evidence, oldest first (compliance officers only).");
        return v1;
    }

    private static async Task<Results<Ok<ReservationDecisionsResponse>, ProblemHttpResult>> GetAsync(
        string reservationId, ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var decisions = await db.ScreeningDecisions.AsNoTracking()
            .Where(decision => decision.ReservationId == reservationId)
            .OrderBy(decision => decision.DecidedAt).ThenBy(decision => decision.Id)
            .ToListAsync(cancellationToken);
        return decisions.Count == 0
            ? TypedResults.Problem($"No decision is on file for reservation '{reservationId}'.", statusCode: StatusCodes.Status404NotFound, title: "No decision")
            : TypedResults.Ok(new ReservationDecisionsResponse(reservationId, [.. decisions.Select(DecisionResponse.From)]));
    }
}
