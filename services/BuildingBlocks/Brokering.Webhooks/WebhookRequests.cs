using System.Globalization;

namespace Brokering.Webhooks;

/// <summary>A subscription whose request passed its service's checks.</summary>
/// <param name="Url">The endpoint, as the rules admitted it.</param>
/// <param name="EventTypes">The event types wanted, each once.</param>
/// <param name="Statuses">The service's further filter (ordering: reservation statuses); empty for all.</param>
/// <param name="Description">The tenant's note on the endpoint.</param>
public sealed record ValidSubscription(string Url, IReadOnlyList<string> EventTypes, IReadOnlyList<string> Statuses, string? Description)
{
    /// <summary>
    /// For a service whose deliveries come from a feed: the feed cursor (transaction order, position) the deliveries
    /// start after, when the tenant asked to be sent what it has not read yet; null: from the subscription's creation.
    /// </summary>
    public (long Order, long Position)? StartAfter { get; init; }
}

/// <summary>
/// The checks every service makes of a new subscription, each bad field named by its path in the request: the
/// endpoint (<see cref="EndpointAddressRules"/>), the event types (one or more of the service's), the description.
/// </summary>
public sealed class WebhookRequestRules(EndpointAddressRules addresses, WebhookOptions options)
{
    /// <summary>Checks <paramref name="url"/>, <paramref name="eventTypes"/> and <paramref name="description"/>, adding to <paramref name="errors"/>.</summary>
    /// <returns>The event types asked for, each once.</returns>
    public List<string> Check(
        string? url, List<string?>? eventTypes, string? description, IReadOnlyList<string> knownEventTypes, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            errors["url"] = ["Required: the HTTPS endpoint to deliver to."];
        }
        else if (addresses.Refusal(url, options.MaxUrlLength) is { } refusal)
        {
            errors["url"] = [refusal];
        }

        var wanted = (eventTypes ?? []).Distinct(StringComparer.Ordinal).ToList();
        if (wanted.Count == 0)
        {
            errors["eventTypes"] = [$"One or more of {string.Join(", ", knownEventTypes)}."];
        }

        for (var i = 0; i < (eventTypes?.Count ?? 0); i++)
        {
            if (!knownEventTypes.Contains(eventTypes![i] ?? string.Empty, StringComparer.Ordinal))
            {
                errors[$"eventTypes[{i}]"] = [$"Unknown event type: one of {string.Join(", ", knownEventTypes)}."];
            }
        }

        if (description is { } note && (note.Length > WebhookModel.MaxDescriptionLength || HasControlCharacters(note)))
        {
            errors["description"] = [$"At most {WebhookModel.MaxDescriptionLength} characters, no control characters but tabs and line breaks."];
        }

        return wanted!;
    }

    // As Brokering.Contracts.InputBounds.IsPlainText(multiline: true), which this building block does not reference: NUL
    // cannot be stored by PostgreSQL (a 500), and other control characters forge lines where the note is shown.
    internal static bool HasControlCharacters(string text, bool multiline = true) =>
        text.Any(c => char.IsControl(c) && !(multiline && (c is '\t' or '\n' or '\r')));
}

/// <summary>Where a page of a delivery log starts and how long it is, read from the query string.</summary>
public readonly record struct DeliveryLogQuery(long? Before, int Limit)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>
    /// <paramref name="before"/>: a page's next, unchanged; <paramref name="limit"/>: 1 to <see cref="MaxLimit"/>
    /// (default <see cref="DefaultLimit"/>).
    /// Null with the errors by parameter when either is bad.
    /// </summary>
    public static (DeliveryLogQuery? Query, Dictionary<string, string[]> Errors) Parse(string? before, string? limit)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        long? cursor = null;
        if (!string.IsNullOrEmpty(before))
        {
            if (long.TryParse(before, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) && sequence > 0)
            {
                cursor = sequence;
            }
            else
            {
                errors["before"] = ["Not a cursor this log handed out: pass a page's next, unchanged."];
            }
        }

        var size = DefaultLimit;
        if (limit is not null
            && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > MaxLimit))
        {
            errors["limit"] = [$"A whole number from 1 to {MaxLimit}."];
        }

        return errors.Count > 0 ? (null, errors) : (new DeliveryLogQuery(cursor, size), errors);
    }
}
