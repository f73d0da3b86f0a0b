using System.Globalization;
using Brokering.Contracts;
using Brokering.Ordering.Buyers;
using Brokering.Ordering.Reservations.Bulk;
using Brokering.Ordering.Reservations.Changes;
using Brokering.Ordering.Reservations.Listing;
using Brokering.Ordering.Reservations.Submit;
using Brokering.Ordering.Saga;
using Brokering.ServiceDefaults.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Brokering.Ordering.Reservations;

/// <summary>The buyers' REST API: <c>/v1/reservations</c>.</summary>
/// <remarks>
/// Every handler returns typed results, so the OpenAPI document describes each status and body from the code that
/// produces it. Problems whose status the result type does not carry (<see cref="ProblemHttpResult"/>) are declared
/// next to the route; the statuses the pipeline answers before a handler runs (401, 403, 429) on the group.
/// </remarks>
public static class ReservationsApi
{
    public static IEndpointRouteBuilder MapReservationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/reservations").WithTags("Reservations").RequireAuthorization(BrokeringRoles.Buyer)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        group.MapPost("/", SubmitAsync)
            .WithSummary("Submits a reservation.")
            .WithDescription("202 with its id, status and Location; the same Idempotency-Key and body replay the first answer. "
                + "409 while an earlier request with the key is still being handled, 422 when the key was used with another body. "
                + "503 with Retry-After, naming each line (lines[i].sku) whose SKU ordering cannot check against the catalogue yet: "
                + "nothing is stored and the key is not used up; send the same request again.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesValidationProblem(StatusCodes.Status503ServiceUnavailable);
        group.MapBulkSubmission();
        group.MapReservationList();
        group.MapGet("/changes", ChangesAsync)
            .WithSummary("The caller's reservation status changes, oldest first, from just after a cursor.");
        group.MapGet("/{id:guid}", GetAsync)
            .WithSummary("A reservation as it stands.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:guid}/confirm", ConfirmAsync)
            .WithSummary("Confirms a Held reservation, or an AwaitingStock one holding at least its minimum fill.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{id:guid}/cancel", CancelAsync)
            .WithSummary("Cancels a reservation that has not ended; everything held is released.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return app;
    }

    public sealed record CancelRequest(string? Reason);

    /// <summary>The body of a 202: the reservation and the status it is in, or moving to.</summary>
    public sealed record ReservationAccepted(Guid Id, string Status);

    private static async Task<Results<Accepted<ReservationAccepted>, ReplayedAnswer, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        HttpContext http, SubmitReservationRequest request, ReservationDesk desk,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        // Two keys would be read as one ("a,b"), a key neither retry sends; and a proxy that reads the first would
        // deduplicate by a key the service never stored.
        if (http.Request.Headers["Idempotency-Key"].Count > 1)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["Idempotency-Key"] = ["Given more than once: send one key."],
            });
        }

        if (idempotencyKey is not null && !InputBounds.IsIdempotencyKey(idempotencyKey))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["Idempotency-Key"] = [$"Must be 1 to {InputBounds.MaxIdempotencyKeyLength} characters, no control characters."],
            });
        }

        var result = await desk.SubmitAsync(buyer, request, idempotencyKey, cancellationToken);
        if (result is DeskResult.Accepted accepted)
        {
            http.Response.Headers.RetryAfter = "1";
            return TypedResults.Accepted(ReservationDesk.LocationOf(accepted.Reservation.Id), new ReservationAccepted(accepted.Reservation.Id, accepted.Reservation.Status));
        }

        if (result is DeskResult.Replayed replayed)
        {
            http.Response.Headers.RetryAfter = "1";
            return new ReplayedAnswer(replayed);
        }

        if (result is DeskResult.CatalogueUndecided undecided)
        {
            http.Response.Headers.RetryAfter = CatalogueUndecidedRetryAfter;
            return CatalogueUndecidedProblem(undecided);
        }

        return result is DeskResult.Invalid invalid ? TypedResults.ValidationProblem(invalid.Errors) : ToProblem(result);
    }

    /// <summary>Seconds a buyer waits before sending a submission the catalogue copy could not vouch for again: as often as a replica without a copy asks compliance.</summary>
    public static readonly string CatalogueUndecidedRetryAfter =
        ((int)Catalogue.CatalogueRefresher.RetryWithoutCopy.TotalSeconds).ToString(CultureInfo.InvariantCulture);

    /// <summary>503 naming each line whose SKU could not be checked, as a validation problem names a field.</summary>
    public static ProblemHttpResult CatalogueUndecidedProblem(DeskResult.CatalogueUndecided undecided) =>
        TypedResults.Problem(new HttpValidationProblemDetails(undecided.Lines)
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "The catalogue cannot be checked yet.",
            Detail = "Ordering cannot check these lines' SKUs against compliance's catalogue at the moment. Nothing was stored and the Idempotency-Key was not used; send the same request again after Retry-After.",
        });

    private static async Task<Results<Ok<ReservationView>, ProblemHttpResult>> GetAsync(HttpContext http, Guid id, ReservationDesk desk, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        return await desk.GetAsync(buyer, id, cancellationToken) is { } view ? TypedResults.Ok(view) : NotFound(id);
    }

    /// <summary>Why a cursor past the end of the caller's change feed is refused (REST and gRPC).</summary>
    public const string ChangeCursorPastTheEnd =
        "Past the end of this feed: not a cursor it handed out. Pass a change's cursor or a page's next, unchanged, or none to read from the first change.";

    /// <summary>The caller's status changes after <paramref name="after"/> (from the first when absent), oldest first.</summary>
    private static async Task<Results<Ok<ChangePage>, ValidationProblem>> ChangesAsync(
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

        if (await feed.ReadFromCallerAsync(buyer, cursor, size, cancellationToken) is not { } page)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["after"] = [ChangeCursorPastTheEnd] });
        }

        return TypedResults.Ok(page);
    }

    private static async Task<Results<Accepted<ReservationAccepted>, ProblemHttpResult>> ConfirmAsync(
        HttpContext http, Guid id, ReservationDesk desk, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        var result = await desk.ConfirmAsync(buyer, id, cancellationToken);
        return result is DeskResult.Accepted accepted
            ? TypedResults.Accepted(ReservationDesk.LocationOf(id), new ReservationAccepted(accepted.Reservation.Id, ReservationStates.Declared.Confirming))
            : ToProblem(result, id);
    }

    private static async Task<Results<Accepted<ReservationAccepted>, ValidationProblem, ProblemHttpResult>> CancelAsync(HttpContext http, Guid id, CancelRequest? request, ReservationDesk desk, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        if (request?.Reason is { } reason && (reason.Length > 500 || !InputBounds.IsPlainText(reason, multiline: true)))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["At most 500 characters, no control characters but tabs and line breaks."] });
        }

        var result = await desk.CancelAsync(buyer, id, request?.Reason, cancellationToken);
        return result is DeskResult.Accepted accepted
            ? TypedResults.Accepted(ReservationDesk.LocationOf(id), new ReservationAccepted(accepted.Reservation.Id, "Cancelling"))
            : ToProblem(result, id);
    }

    /// <summary>
    /// The first answer to an Idempotency-Key, as stored with the key: its status (202), its body (the reservation as it
    /// was accepted, a superset of <see cref="ReservationAccepted"/>) and its Location. Declares nothing: the 202 it
    /// replays is described by the first answer's type.
    /// </summary>
    public sealed class ReplayedAnswer(DeskResult.Replayed replayed) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (replayed.Location is not null)
            {
                httpContext.Response.Headers.Location = replayed.Location;
            }

            return Results.Text(replayed.Body, "application/json", statusCode: replayed.Status).ExecuteAsync(httpContext);
        }
    }

    /// <summary>A refusal other than invalid input (which the handlers answer as a validation problem themselves).</summary>
    private static ProblemHttpResult ToProblem(DeskResult result, Guid? id = null) => result switch
    {
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
