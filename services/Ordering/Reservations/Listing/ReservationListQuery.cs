using System.Globalization;
using Brokering.Contracts;
using Brokering.Ordering.Ops;

namespace Brokering.Ordering.Reservations.Listing;

/// <summary>
/// Which of the caller's reservations to list, and from where: every filter given must hold. Made only by
/// <see cref="Parse"/>, which refuses bad input naming each bad parameter, so REST and gRPC refuse the same things.
/// </summary>
public sealed record ReservationListQuery(
    IReadOnlyList<string> Statuses,
    string? BuyerReference,
    string? Sku,
    DateTimeOffset? SubmittedFrom,
    DateTimeOffset? SubmittedTo,
    int Limit,
    ListCursor? After)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>The parameters as the REST API names them; the gRPC API maps its field names onto these.</summary>
    public static class Parameters
    {
        public const string Status = "status";
        public const string BuyerReference = "buyerReference";
        public const string Sku = "sku";
        public const string SubmittedFrom = "submittedFrom";
        public const string SubmittedTo = "submittedTo";
        public const string Limit = "limit";
        public const string Cursor = "cursor";
    }

    /// <summary>
    /// Checks raw parameters. <paramref name="statuses"/> may repeat and each may list several, comma-separated; the
    /// statuses known are the saga's own (<paramref name="diagram"/>), so a state added to the machine is listable at once.
    /// <paramref name="errors"/> holds what the caller already refused while reading its raw input (a value it could not
    /// read is passed as absent).
    /// </summary>
    public static (ReservationListQuery? Query, Dictionary<string, string[]> Errors) Parse(
        StateMachineDiagram diagram,
        IEnumerable<string?>? statuses,
        string? buyerReference,
        string? sku,
        DateTimeOffset? submittedFrom,
        DateTimeOffset? submittedTo,
        int? limit,
        string? cursor,
        Dictionary<string, string[]>? errors = null)
    {
        errors ??= new Dictionary<string, string[]>(StringComparer.Ordinal);

        var known = diagram.States.Select(state => state.Name).ToList();
        var wanted = (statuses ?? [])
            .SelectMany(value => (value ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var unknown = wanted.Where(status => !known.Contains(status, StringComparer.Ordinal)).ToList();
        if (unknown.Count > 0)
        {
            errors[Parameters.Status] = [$"Unknown status {string.Join(", ", unknown.Select(s => $"'{Shorten(s)}'"))}: one or more of {string.Join(", ", known)}."];
        }

        if (buyerReference is { } reference && (reference.Length > 200 || !InputBounds.IsPlainText(reference)))
        {
            errors[Parameters.BuyerReference] = ["At most 200 characters, no control characters."];
        }

        string? canonicalSku = null;
        if (!string.IsNullOrEmpty(sku) && !Brokering.Contracts.Sku.TryNormalize(sku, out canonicalSku))
        {
            errors[Parameters.Sku] = [Brokering.Contracts.Sku.SpellingRule];
        }

        if (submittedFrom > submittedTo)
        {
            errors[Parameters.SubmittedFrom] = [$"Must not be after {Parameters.SubmittedTo}."];
        }

        if (limit is < 1 or > MaxLimit)
        {
            errors[Parameters.Limit] = [$"A whole number from 1 to {MaxLimit}."];
        }

        ListCursor? after = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (ListCursor.TryParse(cursor, out var parsed))
            {
                after = parsed;
            }
            else
            {
                errors[Parameters.Cursor] = ["Not a cursor this list handed out: pass a page's next, unchanged."];
            }
        }

        return errors.Count > 0
            ? (null, errors)
            : (new ReservationListQuery(wanted, string.IsNullOrEmpty(buyerReference) ? null : buyerReference, canonicalSku,
                submittedFrom, submittedTo, limit ?? DefaultLimit, after), errors);
    }

    /// <summary>Reads an ISO 8601 instant (a bare date or time without offset is taken as UTC).</summary>
    public static bool TryParseInstant(string text, out DateTimeOffset instant) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out instant);

    private static string Shorten(string value) => value.Length > 40 ? value[..40] + "…" : value;
}
