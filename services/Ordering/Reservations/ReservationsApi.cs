using System.Globalization;
using Brokering.Contracts;
using Brokering.Ordering.Buyers;
using Brokering.Ordering.Reservations.Changes;
using Brokering.Ordering.Reservations.Submit;
using Brokering.ServiceDefaults.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Brokering.Ordering.Reservations;

/// <summary>The buyers' REST API: <c>/v1/reservations</c>.</summary>
public static class ReservationsApi
{
    public static IEndpointRouteBuilder MapReservationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/reservations").WithTags("Reservations").RequireAuthorization(BrokeringRoles.Buyer);
        group.MapPost("/", SubmitAsync);
        group.MapGet("/changes", ChangesAsync);
        group.MapGet("/{id:guid}", GetAsync);
        group.MapPost("/{id:guid}/confirm", ConfirmAsync);
        group.MapPost("/{id:guid}/cancel", CancelAsync);
        return app;
    }

    public sealed record CancelRequest(string? Reason);

    private static async Task<IResult> SubmitAsync(
        HttpContext http, SubmitReservationRequest request, ReservationDesk desk,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        if (idempotencyKey is { Length: 0 or > InputBounds.MaxIdempotencyKeyLength })
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["Idempotency-Key"] = [$"Must be 1 to {InputBounds.MaxIdempotencyKeyLength} characters."],
            });
        }

        var result = await desk.SubmitAsync(buyer, request, idempotencyKey, cancellationToken);
        if (result is DeskResult.Accepted accepted)
        {
            http.Response.Headers.RetryAfter = "1";
            return TypedResults.Accepted(ReservationDesk.LocationOf(accepted.Reservation.Id), new { accepted.Reservation.Id, accepted.Reservation.Status });
        }

        if (result is DeskResult.Replayed replayed)
        {
            http.Response.Headers.RetryAfter = "1";
            if (replayed.Location is not null)
            {
                http.Response.Headers.Location = replayed.Location;
            }

            return Results.Text(replayed.Body, "application/json", statusCode: replayed.Status);
        }

        return ToProblem(result);
    }

    private static async Task<IResult> GetAsync(HttpContext http, Guid id, ReservationDesk desk, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        return await desk.GetAsync(buyer, id, cancellationToken) is { } view ? TypedResults.Ok(view) : NotFound(id);
    }

    /// <summary>The caller's status changes after <paramref name="after"/> (from the first when absent), oldest first.</summary>
    private static async Task<IResult> ChangesAsync(
        HttpContext http, ReservationChangeFeed feed, string? after, string? limit, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        var errors = new Dictionary<string, string[]>();
        var cursor = ChangeCursor.Start;
        if (!string.IsNullOrEmpty(after) && !ChangeCursor.TryParse(after, out cursor))
        {
            errors["after"] = ["Not a cursor this feed handed out: pass a change's cursor or a page's next, unchanged."];
        }

        var size = ReservationChangeFeed.DefaultLimit;
        if (limit is not null
            && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > ReservationChangeFeed.MaxLimit))
        {
            errors["limit"] = [$"A whole number from 1 to {ReservationChangeFeed.MaxLimit}."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return TypedResults.Ok(await feed.ReadAsync(buyer, cursor, size, cancellationToken));
    }

    private static async Task<IResult> ConfirmAsync(HttpContext http, Guid id, ReservationDesk desk, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        var result = await desk.ConfirmAsync(buyer, id, cancellationToken);
        return result is DeskResult.Accepted accepted
            ? TypedResults.Accepted(ReservationDesk.LocationOf(id), new { accepted.Reservation.Id, Status = "Confirming" })
            : ToProblem(result, id);
    }

    private static async Task<IResult> CancelAsync(HttpContext http, Guid id, CancelRequest? request, ReservationDesk desk, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        if (request?.Reason is { Length: > 500 })
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["At most 500 characters."] });
        }

        var result = await desk.CancelAsync(buyer, id, request?.Reason, cancellationToken);
        return result is DeskResult.Accepted accepted
            ? TypedResults.Accepted(ReservationDesk.LocationOf(id), new { accepted.Reservation.Id, Status = "Cancelling" })
            : ToProblem(result, id);
    }

    private static IResult ToProblem(DeskResult result, Guid? id = null) => result switch
    {
        DeskResult.Invalid invalid => TypedResults.ValidationProblem(invalid.Errors),
        DeskResult.NotFound => NotFound(id),
        DeskResult.Conflict conflict => TypedResults.Problem(conflict.Detail, statusCode: StatusCodes.Status409Conflict, title: "The reservation is not in a state that allows this."),
        DeskResult.KeyReused => TypedResults.Problem(
            "This Idempotency-Key was already used with a different request body.",
            statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused."),
        DeskResult.KeyInFlight => TypedResults.Problem(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            statusCode: StatusCodes.Status409Conflict, title: "Request in flight."),
        _ => TypedResults.Problem(statusCode: StatusCodes.Status500InternalServerError),
    };

    private static ProblemHttpResult NotFound(Guid? id) =>
        TypedResults.Problem($"No reservation {id} exists for this buyer.", statusCode: StatusCodes.Status404NotFound, title: "Reservation not found.");
}
