using Brokering.Compliance.Data;
using Brokering.Compliance.Infrastructure;
using Brokering.ServiceDefaults.Paging;
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
        var decisions = v1.MapGroup("/decisions").WithTags("Decisions").RequireAuthorization(BrokeringRoles.ComplianceOfficer);
        decisions.MapGet("/", SearchAsync)
            .WithName("SearchDecisions")
            .WithSummary("Screening decisions, newest first, by outcome, buyer, rule set and time (compliance officers only).")
            .WithDescription("Filters: `outcome` (Approved, Denied, LicenceRequired, PotentialMatch), `buyerId`, `ruleSetVersion`, `from` (inclusive) "
                + "and `to` (exclusive) ISO 8601 instants. JSON pages of `limit` (1-500, default 100) with an opaque `next` to pass "
                + "back as `cursor`; `format=csv` gives every match as one CSV download instead (no paging), for a spreadsheet or an auditor.")
            .Produces<DecisionPage>(StatusCodes.Status200OK, "application/json", "text/csv")
            .ProducesValidationProblem()
            // Produces gives every media type the page's schema; the CSV download is text.
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                if (operation.Responses?.TryGetValue("200", out var ok) == true && ok.Content?.TryGetValue("text/csv", out var csv) == true)
                {
                    csv.Schema = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String };
                }

                return Task.CompletedTask;
            });
        decisions.MapGet("/{reservationId}", GetAsync)
            .WithName("GetDecisions")
            .WithSummary("Every screening decision of a reservation with its evidence, oldest first (compliance officers only).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    private static async Task<IResult> SearchAsync(
        ComplianceDbContext db, string? outcome, string? buyerId, string? ruleSetVersion, string? from, string? to,
        string? limit, string? cursor, string? format, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var filter = DecisionFilter.Read(outcome, buyerId, ruleSetVersion, from, to, errors);
        var csv = string.Equals(format, "csv", StringComparison.OrdinalIgnoreCase);
        if (format is not null && !csv && !string.Equals(format, "json", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add("format", $"'{format}' is not a format; json or csv.");
        }

        if (!PageParameters.TryReadLimit(limit, DecisionFilter.DefaultLimit, DecisionFilter.MaxLimit, out var pageSize))
        {
            errors.Add("limit", $"A limit is a whole number from 1 to {DecisionFilter.MaxLimit}.");
        }

        DecisionCursor? after = null;
        if (cursor is not null)
        {
            if (csv)
            {
                errors.Add("cursor", "The CSV export is not paged: it has every match.");
            }
            else if (DecisionCursor.TryParse(cursor, out var parsed))
            {
                after = parsed;
            }
            else
            {
                errors.Add("cursor", "Not a cursor this search handed out.");
            }
        }

        if (errors.Any)
        {
            return errors.Problem();
        }

        if (csv)
        {
            var rows = filter.Apply(db, after: null).AsAsyncEnumerable();
            return TypedResults.Stream(async body =>
            {
                await using var writer = new StreamWriter(body, new System.Text.UTF8Encoding(false), leaveOpen: true) { NewLine = "\r\n" };
                await foreach (var line in DecisionCsv.LinesAsync(rows, cancellationToken))
                {
                    await writer.WriteLineAsync(line.AsMemory(), cancellationToken);
                }
            }, "text/csv; charset=utf-8", "decisions.csv");
        }

        var page = await filter.Apply(db, after).Take(pageSize + 1).ToListAsync(cancellationToken);
        var more = page.Count > pageSize;
        if (more)
        {
            page.RemoveAt(pageSize);
        }

        return TypedResults.Ok(new DecisionPage(
            [.. page.Select(DecisionSummary.From)], more ? new DecisionCursor(page[^1].DecidedAt, page[^1].Id).ToToken() : null));
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
