using Brokering.Contracts.Inventory;
using Microsoft.AspNetCore.Http.HttpResults;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Inventory.StockFeeds;

/// <summary>The result of one stock update, as the REST endpoint reports it.</summary>
public sealed record StockUpdateResponse(
    string? DistributorId,
    long Sequence,
    StockUpdateOutcome Outcome,
    int ItemsApplied,
    bool GapDetected,
    bool GapHealed,
    long PreviousSequence,
    IReadOnlyList<StockItemError> ItemErrors,
    IReadOnlyList<SequenceRange> Missing);

internal static class StockFeedApi
{
    public static IEndpointRouteBuilder MapStockFeedApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/distributors/{id}/stock-feed", PublishAsync).WithTags("Stock feeds").WithName("PublishStockUpdate")
            .RequireAuthorization(BrokeringRoles.Distributor);
        return app;
    }

    /// <summary>
    /// Applies one update. 200 when applied (item errors listed; the valid items were applied), a
    /// duplicate or superseded by a later snapshot; 400 problem+json with field paths when the update as a whole is invalid; 404 for an
    /// unknown distributor.
    /// </summary>
    private static async Task<Results<Ok<StockUpdateResponse>, ValidationProblem, ProblemHttpResult>> PublishAsync(
        string id, StockFeedUpdate update, StockFeedIngestor ingestor, HttpContext http, CancellationToken cancellationToken)
    {
        // A distributor publishes its own feed only.
        if (!DistributorIdentity.MayPublish(http.User, id))
        {
            return TypedResults.Problem($"This token may not publish the feed of distributor '{id}'.",
                statusCode: StatusCodes.Status403Forbidden, title: "Not your feed.");
        }

        if (update.DistributorId is not null && update.DistributorId.Trim() != id)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["distributorId"] = [$"distributorId '{update.DistributorId}' does not match the distributor in the path '{id}'."],
            });
        }

        var fieldErrors = StockUpdateValidator.ValidateUpdate(update with { DistributorId = id });
        if (fieldErrors.Count > 0)
        {
            return TypedResults.ValidationProblem(fieldErrors);
        }

        var result = await ingestor.ApplyAsync(update with { DistributorId = id }, "rest", cancellationToken);
        return result switch
        {
            { Rejection: StockUpdateRejection.UnknownDistributor } =>
                TypedResults.Problem(result.Error, statusCode: StatusCodes.Status404NotFound, title: "Unknown distributor"),
            { Outcome: StockUpdateOutcome.Rejected } => TypedResults.ValidationProblem(
                result.ItemErrors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Error).ToArray()),
                detail: result.Error),
            _ => TypedResults.Ok(new StockUpdateResponse(
                result.DistributorId, result.Sequence, result.Outcome, result.ItemsApplied, result.GapDetected, result.GapHealed,
                result.PreviousSequence, result.ItemErrors, result.Missing)),
        };
    }
}
