using System.ComponentModel;
using System.Globalization;
using Brokering.Ordering.Buyers;
using Brokering.Ordering.Ops;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Brokering.Ordering.Reservations.Listing;

/// <summary><c>GET /v1/reservations</c>: the caller's reservations, filtered, a page at a time.</summary>
public static class ReservationListEndpoint
{
    public static RouteGroupBuilder MapReservationList(this RouteGroupBuilder group)
    {
        group.MapGet("/", ListAsync)
            .WithSummary("The caller's reservations, newest first, a page at a time.")
            .WithDescription("Filters combine (all must hold). Pages are keyset-paginated by (submitted time, id): pass a page's "
                + "next as cursor for the following page; reservations submitted meanwhile never shift a page. buyerReference "
                + "matches exactly, so it doubles as the lookup by the buyer's own purchase-order reference.");
        return group;
    }

    private static async Task<Results<Ok<ReservationPage>, ValidationProblem>> ListAsync(
        HttpContext http, ReservationList list, StateMachineDiagram diagram,
        [Description("Only these statuses: repeat the parameter or separate with commas (e.g. Held,AwaitingStock).")] string[]? status,
        [Description("Only reservations with exactly this buyer reference (case-sensitive): the lookup by purchase-order reference.")] string? buyerReference,
        [Description("Only reservations with a line for this SKU (any spelling the catalogue accepts).")] string? sku,
        [Description("Only reservations submitted at or after this ISO 8601 instant.")] string? submittedFrom,
        [Description("Only reservations submitted before this ISO 8601 instant.")] string? submittedTo,
        [Description("Most reservations in the page, 1 to 200 (default 50).")] string? limit,
        [Description("A page's next, unchanged, to read the page after it.")] string? cursor,
        CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        DateTimeOffset? Instant(string? text, string parameter)
        {
            if (string.IsNullOrEmpty(text))
            {
                return null;
            }

            if (ReservationListQuery.TryParseInstant(text, out var instant))
            {
                return instant;
            }

            errors[parameter] = ["An ISO 8601 instant, e.g. 2026-12-04T09:00:00Z."];
            return null;
        }

        var from = Instant(submittedFrom, ReservationListQuery.Parameters.SubmittedFrom);
        var to = Instant(submittedTo, ReservationListQuery.Parameters.SubmittedTo);
        int? size = null;
        if (limit is not null)
        {
            if (int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                size = parsed;
            }
            else
            {
                errors[ReservationListQuery.Parameters.Limit] = [$"A whole number from 1 to {ReservationListQuery.MaxLimit}."];
            }
        }

        var (query, invalid) = ReservationListQuery.Parse(diagram, status, buyerReference, sku, from, to, size, cursor, errors);
        if (query is null)
        {
            return TypedResults.ValidationProblem(invalid);
        }

        return TypedResults.Ok(await list.ReadAsync(buyer, query, cancellationToken));
    }
}
