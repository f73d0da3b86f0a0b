using Brokering.Ordering.Ops;
using Brokering.Ordering.Reservations.Changes;
using Brokering.Webhooks;

namespace Brokering.Ordering.Webhooks;

/// <summary>The body of <c>POST /v1/webhooks/subscriptions</c>.</summary>
/// <param name="Url">The HTTPS endpoint deliveries are POSTed to.</param>
/// <param name="EventTypes">The event types wanted: <c>reservation.status_changed</c>.</param>
/// <param name="Statuses">Optional: only transitions into these reservation statuses (absent or empty: every transition).</param>
/// <param name="Description">Optional: what the endpoint is, for the tenant's own records.</param>
/// <param name="StartAfter">
/// Optional: a change feed cursor (a change's <c>cursor</c> or a page's <c>next</c> from <c>GET /v1/reservations/changes</c>)
/// to be sent every change after it, those made before the subscription included, so a receiver that read the feed up
/// to there misses nothing in between. Absent: the changes made from the subscription's creation on.
/// </param>
public sealed record CreateSubscriptionRequest(string? Url, List<string?>? EventTypes, List<string?>? Statuses, string? Description, string? StartAfter = null);

/// <summary>Checks a new subscription, naming each bad field by its path in the request.</summary>
public sealed class WebhookRegistration(WebhookRequestRules rules, StateMachineDiagram diagram)
{
    public (ValidSubscription? Subscription, Dictionary<string, string[]> Errors) Validate(CreateSubscriptionRequest? request)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (request is null)
        {
            errors["body"] = ["A JSON object with url and eventTypes."];
            return (null, errors);
        }

        var eventTypes = rules.Check(request.Url, request.EventTypes, request.Description, WebhookEventTypes.All, errors);
        var known = diagram.States.Select(state => state.Name).Where(name => name != StateMachineDiagram.InitialState).ToList();
        for (var i = 0; i < (request.Statuses?.Count ?? 0); i++)
        {
            if (!known.Contains(request.Statuses![i] ?? string.Empty, StringComparer.Ordinal))
            {
                errors[$"statuses[{i}]"] = [$"Unknown status: one of {string.Join(", ", known)}."];
            }
        }

        ChangeCursor? startAfter = null;
        if (request.StartAfter is { } text)
        {
            if (ChangeCursor.TryParse(text, out var cursor) && cursor.TransactionOrder <= long.MaxValue)
            {
                startAfter = cursor;
            }
            else
            {
                errors["startAfter"] = ["Not a change feed cursor: give a change's cursor or a page's next from GET /v1/reservations/changes."];
            }
        }

        return errors.Count > 0
            ? (null, errors)
            : (new ValidSubscription(request.Url!, eventTypes, (request.Statuses ?? []).Distinct(StringComparer.Ordinal).ToList()!, request.Description)
            {
                StartAfter = startAfter is { } after ? ((long)after.TransactionOrder, after.Position) : null,
            }, errors);
    }
}
