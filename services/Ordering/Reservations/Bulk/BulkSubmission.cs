using System.Text.Json;
using System.Text.Json.Serialization;
using Brokering.Ordering.Reservations.Submit;
using Brokering.ServiceDefaults.Errors;

namespace Brokering.Ordering.Reservations.Bulk;

/// <summary>One reservation of a bulk submission: the body of <c>POST /v1/reservations</c> with its own idempotency key.</summary>
public sealed record BulkReservationItem(
    string? IdempotencyKey,
    string? BuyerReference,
    EndUserRequest? EndUser,
    string? DestinationCountry,
    FillPolicyRequest? FillPolicy,
    string? Confirmation,
    IReadOnlyList<LineRequest>? Lines)
{
    /// <summary>The single submission this item is: the same body, so the same key replays either.</summary>
    public SubmitReservationRequest ToRequest() => new(BuyerReference, EndUser, DestinationCountry, FillPolicy, Confirmation, Lines);
}

/// <summary>
/// An item as read from the request, before it is submitted: the item, or why it could not be read (errors keyed by
/// their path within the item, and its key when one could be read), and for CSV the rows (1-based, the header is row 1)
/// it was read from.
/// </summary>
public sealed record BulkEntry(BulkReservationItem? Item, string? Key, IReadOnlyDictionary<string, string[]> Errors, IReadOnlyList<int>? Rows = null)
{
    public static BulkEntry Of(BulkReservationItem item, IReadOnlyList<int>? rows = null) =>
        new(item, item.IdempotencyKey, new Dictionary<string, string[]>(StringComparer.Ordinal), rows);

    public static BulkEntry Unreadable(string? key, IReadOnlyDictionary<string, string[]> errors, IReadOnlyList<int>? rows = null) =>
        new(null, key, errors, rows);

    /// <summary>
    /// An item read with some values that could not be (<paramref name="errors"/>; their fields hold defaults): refused, but
    /// with every other error the item has too, so a buyer fixes its row once, not once per error.
    /// </summary>
    public static BulkEntry PartlyRead(BulkReservationItem item, IReadOnlyDictionary<string, string[]> errors, IReadOnlyList<int>? rows = null) =>
        new(item, item.IdempotencyKey, errors, rows);
}

/// <summary>What became of one item, in the terms of a single submission's answer.</summary>
/// <param name="Index">The item's position in the request (its <c>items[i]</c>).</param>
/// <param name="IdempotencyKey">The item's key, when it could be read.</param>
/// <param name="Outcome">Accepted, Replayed, Invalid, KeyReused, KeyInFlight, RateLimited or Unavailable.</param>
/// <param name="Status">The HTTP status a single submission of the item would have been answered with.</param>
/// <param name="Id">The reservation, when accepted or replayed.</param>
/// <param name="ReservationStatus">Its status when it was accepted.</param>
/// <param name="Location">Where to follow it.</param>
/// <param name="Errors">Why it was refused, each field by its path in the request (<c>items[3].lines[0].quantity</c>).</param>
/// <param name="Detail">Why it was refused, for refusals that are not about a field.</param>
/// <param name="Rows">For CSV, the rows (1-based, the header is row 1) the reservation was read from.</param>
public sealed record BulkItemResult(
    int Index,
    string? IdempotencyKey,
    string Outcome,
    int Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? Id = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ReservationStatus = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Location = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string[]>? Errors = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<int>? Rows = null);

/// <summary>The answer to a bulk submission: one result per item, in request order, and how many of each.</summary>
public sealed record BulkAnswer(int Accepted, int Replayed, int Refused, IReadOnlyList<BulkItemResult> Results);

/// <summary>Reads the JSON form: an array of <see cref="BulkReservationItem"/>, each read on its own.</summary>
public static class BulkJson
{
    /// <summary>
    /// Each element is deserialised separately, with the API's strict JSON options, so one malformed item (a string
    /// where a number belongs, an unknown field) is that item's error, not the whole request's.
    /// </summary>
    public static (List<BulkEntry>? Entries, Dictionary<string, string[]> Errors) Read(JsonDocument document, JsonSerializerOptions options)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            errors["items"] = ["The body must be a JSON array of reservations."];
            return (null, errors);
        }

        var entries = new List<BulkEntry>();
        foreach (var element in document.RootElement.EnumerateArray())
        {
            try
            {
                entries.Add(element.Deserialize<BulkReservationItem>(options) is { } item
                    ? BulkEntry.Of(item)
                    : BulkEntry.Unreadable(null, new Dictionary<string, string[]> { [string.Empty] = ["A reservation object is required."] }));
            }
            catch (JsonException exception)
            {
                var path = RequestBindingErrors.PathOf(exception) is var inItem && inItem == RequestBindingErrors.Root ? string.Empty : inItem;
                // The key is echoed so the caller can match the answer, unless it is given twice: which one would be guessing.
                var keys = element.ValueKind == JsonValueKind.Object
                    ? element.EnumerateObject().Where(property => property.NameEquals("idempotencyKey")).Take(2).ToList()
                    : [];
                var key = keys is [{ Value.ValueKind: JsonValueKind.String } only] ? only.Value.GetString() : null;
                entries.Add(BulkEntry.Unreadable(key, new Dictionary<string, string[]>
                {
                    [path] = [RequestBindingErrors.ReasonOf(exception)],
                }));
            }
        }

        return (entries, errors);
    }
}
