using Brokering.Ordering.Ops;
using Brokering.Webhooks;

namespace Brokering.Ordering.Webhooks;

/// <summary>The body of <c>POST /v1/webhooks/subscriptions</c>.</summary>
/// <param name="Url">The HTTPS endpoint deliveries are POSTed to.</param>
/// <param name="EventTypes">The event types wanted: <c>reservation.status_changed</c>.</param>
/// <param name="Statuses">Optional: only transitions into these reservation statuses (absent or empty: every transition).</param>
/// <param name="Description">Optional: what the endpoint is, for the tenant's own records.</param>
public sealed record CreateSubscriptionRequest(string? Url, List<string?>? EventTypes, List<string?>? Statuses, string? Description);

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

        return errors.Count > 0
            ? (null, errors)
            : (new ValidSubscription(request.Url!, eventTypes, (request.Statuses ?? []).Distinct(StringComparer.Ordinal).ToList()!, request.Description), errors);
    }
}
