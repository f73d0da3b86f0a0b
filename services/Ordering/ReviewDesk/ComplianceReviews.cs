using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Ordering.ReviewDesk;

/// <summary>A resemblance under review, as compliance gives it (see compliance's <c>GET /v1/reviews</c>).</summary>
/// <param name="Role">Which party: <c>end_user</c>, <c>buyer</c> or <c>buyer_parent</c>.</param>
/// <param name="QueriedName">The name screened, as the reservation gave it.</param>
/// <param name="EntryId">The list entry it resembles (officers only; null for an operator).</param>
/// <param name="EntryName">The listed party's name (officers only).</param>
/// <param name="MatchedName">The entry name or alias it resembles best (officers only).</param>
/// <param name="Score">Similarity in [0, 1] (officers only).</param>
/// <param name="ReviewThreshold">The score from which a name is a potential match (officers only).</param>
/// <param name="Threshold">The score from which a name is a match and denies (officers only).</param>
/// <param name="List">The list the entry is on (officers only).</param>
/// <param name="MixesScripts">Whether the name screened mixes scripts, a sign of disguise (officers only).</param>
public sealed record ReviewMatch(
    string Role, string QueriedName, Guid? EntryId, string? EntryName, string? MatchedName, double? Score, double? ReviewThreshold,
    double? Threshold, string? List, bool? MixesScripts);

/// <summary>A potential match awaiting an officer, as compliance gives it.</summary>
/// <param name="DecisionId">Compliance's potential-match decision: what the officer rules on.</param>
/// <param name="ReservationId">The reservation screened.</param>
/// <param name="BuyerId">The buyer organisation.</param>
/// <param name="FiledAt">When compliance filed the decision.</param>
/// <param name="Cutoff">The reservation's earliest cutoff, if any.</param>
/// <param name="DecideBy">Ordering's screening deadline for the reservation.</param>
/// <param name="Due">The earlier of the two: after it the reservation has ended unapproved, whatever the ruling.</param>
/// <param name="EndUser">The end user as screened.</param>
/// <param name="DestinationCountry">Where the goods go.</param>
/// <param name="Skus">The SKUs of the reservation.</param>
/// <param name="Matches">The resemblances under review.</param>
/// <param name="EvidenceWithheld">The caller is not a compliance officer: the matches name the party and the name only.</param>
public sealed record ComplianceReview(
    Guid DecisionId, string ReservationId, string BuyerId, DateTimeOffset FiledAt, DateTimeOffset? Cutoff, DateTimeOffset? DecideBy,
    DateTimeOffset? Due, ReviewParty? EndUser, string? DestinationCountry, IReadOnlyList<string> Skus, IReadOnlyList<ReviewMatch> Matches,
    bool EvidenceWithheld);

/// <summary>A party of the reservation as screened.</summary>
public sealed record ReviewParty(string Name, string Country);

/// <summary>A reservation in flight, for compliance to judge a rule set against.</summary>
/// <param name="ReservationId">The reservation, as ordering files its screenings.</param>
/// <param name="Status">Where it stands.</param>
public sealed record DryRunSubject(string ReservationId, string Status);

/// <summary>An officer's ruling as compliance recorded it.</summary>
/// <param name="DecisionId">The potential-match decision ruled on.</param>
/// <param name="ReservationId">The reservation.</param>
/// <param name="Ruling"><c>Cleared</c> or <c>Confirmed</c>.</param>
/// <param name="Reason">The officer's reason.</param>
/// <param name="RuledBy">The officer: the subject of the token the ruling was made with.</param>
/// <param name="RuledAt">When.</param>
/// <param name="RulingDecisionId">The decision the ruling filed (told to ordering's saga).</param>
/// <param name="RulingOutcome">Its outcome: Approved, LicenceRequired or Denied.</param>
public sealed record ComplianceRuling(
    Guid DecisionId, string ReservationId, string Ruling, string Reason, string RuledBy, DateTimeOffset RuledAt, Guid RulingDecisionId,
    string RulingOutcome);

/// <summary>What compliance answered.</summary>
public abstract record ComplianceAnswer<T>
{
    /// <summary>It answered with the value.</summary>
    public sealed record Answered(T Value) : ComplianceAnswer<T>;

    /// <summary>It refused (4xx): its status and problem document, to be passed on to the caller as they are.</summary>
    public sealed record Refused(int Status, string ContentType, string Body) : ComplianceAnswer<T>;

    /// <summary>It could not be reached, failed, or did not answer in time.</summary>
    public sealed record Unreachable(string Detail, bool MayHaveActed) : ComplianceAnswer<T>;
}

/// <summary>
/// Compliance's review desk (its REST API, <c>Services:ComplianceApi</c>), called with the caller's own bearer token: the
/// officer or operator is who compliance authorises and records, never ordering. Ordering's service identity could not
/// carry that (it would make every ruling ordering's, or have compliance believe a name ordering typed), and the browser
/// cannot call compliance itself (the console talks to its own origin only). The token must therefore name compliance's
/// audience as well as ordering's, as an operator's or officer's token granted both APIs does.
/// </summary>
public sealed class ComplianceReviews(HttpClient http, ILogger<ComplianceReviews> logger)
{
    /// <summary>How long the console waits for compliance: long enough for a busy compliance, short enough to say so.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task<ComplianceAnswer<IReadOnlyList<ComplianceReview>>> QueueAsync(string bearerToken, CancellationToken cancellationToken) =>
        SendAsync<IReadOnlyList<ComplianceReview>>(
            new HttpRequestMessage(HttpMethod.Get, "v1/reviews?limit=500"), bearerToken, mayAct: false,
            async content => (await content.ReadFromJsonAsync<QueueBody>(Json, cancellationToken))?.Reviews ?? [], cancellationToken);

    public Task<ComplianceAnswer<ComplianceRuling>> RuleAsync(
        string decisionId, string ruling, string reason, string bearerToken, CancellationToken cancellationToken) =>
        SendAsync(
            new HttpRequestMessage(HttpMethod.Post, $"v1/reviews/{Uri.EscapeDataString(decisionId)}/{ruling}")
            {
                Content = JsonContent.Create(new { reason }, options: Json),
            },
            bearerToken, mayAct: true,
            async content => await content.ReadFromJsonAsync<ComplianceRuling>(Json, cancellationToken)
                ?? throw new InvalidOperationException("Compliance answered a ruling with no body."),
            cancellationToken);

    /// <summary>The ids of every screening decision compliance filed for <paramref name="reservationId"/> (none: it filed none).</summary>
    public async Task<ComplianceAnswer<IReadOnlyList<Guid>>> DecisionsOfAsync(Guid reservationId, string bearerToken, CancellationToken cancellationToken)
    {
        var answer = await SendAsync<IReadOnlyList<Guid>>(
            new HttpRequestMessage(HttpMethod.Get, $"v1/decisions/{reservationId}"), bearerToken, mayAct: false,
            async content => [.. ((await content.ReadFromJsonAsync<DecisionsBody>(Json, cancellationToken))?.Decisions ?? []).Select(decision => decision.Id)],
            cancellationToken);
        return answer is ComplianceAnswer<IReadOnlyList<Guid>>.Refused { Status: StatusCodes.Status404NotFound }
            ? new ComplianceAnswer<IReadOnlyList<Guid>>.Answered([])
            : answer;
    }

    /// <summary>Compliance's dry run of <paramref name="ruleSet"/> over <paramref name="reservations"/>; its answer as it gave it.</summary>
    public Task<ComplianceAnswer<JsonElement>> DryRunAsync(
        JsonElement ruleSet, IReadOnlyList<DryRunSubject> reservations, string bearerToken, CancellationToken cancellationToken) =>
        SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "v1/rule-sets/dry-run") { Content = JsonContent.Create(new { ruleSet, reservations }, options: Json) },
            bearerToken, mayAct: false,
            async content => await content.ReadFromJsonAsync<JsonElement>(Json, cancellationToken),
            cancellationToken);

    private async Task<ComplianceAnswer<T>> SendAsync<T>(
        HttpRequestMessage request, string bearerToken, bool mayAct, Func<HttpContent, Task<T>> read, CancellationToken cancellationToken)
    {
        using (request)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            try
            {
                using var response = await http.SendAsync(request, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return new ComplianceAnswer<T>.Answered(await read(response.Content));
                }

                if (response.StatusCode == HttpStatusCode.Unauthorized)
                {
                    // Ordering accepted the token, compliance did not: it names ordering's audience only (or has lapsed between).
                    return new ComplianceAnswer<T>.Refused(StatusCodes.Status403Forbidden, "application/problem+json", JsonSerializer.Serialize(new
                    {
                        type = "https://tools.ietf.org/html/rfc9110#section-15.5.4",
                        title = "Compliance does not accept this token",
                        status = StatusCodes.Status403Forbidden,
                        detail = "Compliance refused the token: it must name compliance's audience as well as ordering's (and be unexpired).",
                    }, Json));
                }

                if ((int)response.StatusCode is >= 400 and < 500)
                {
                    return new ComplianceAnswer<T>.Refused((int)response.StatusCode,
                        response.Content.Headers.ContentType?.ToString() ?? "application/problem+json",
                        await response.Content.ReadAsStringAsync(cancellationToken));
                }

                logger.LogWarning("Compliance's review desk answered {Status} to {Method} {Path}", (int)response.StatusCode, request.Method, request.RequestUri);
                return new ComplianceAnswer<T>.Unreachable($"Compliance failed ({(int)response.StatusCode}).", mayAct);
            }
            catch (HttpRequestException e)
            {
                logger.LogWarning("Compliance's review desk could not be reached: {Error}", e.Message);
                // Refused before anything was sent: nothing was recorded. Any later failure might come after the commit.
                return new ComplianceAnswer<T>.Unreachable("Compliance could not be reached.", mayAct && e.HttpRequestError != HttpRequestError.ConnectionError);
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("Compliance's review desk did not answer within {Timeout}", Timeout);
                return new ComplianceAnswer<T>.Unreachable($"Compliance did not answer within {Timeout.TotalSeconds:0} s.", mayAct);
            }
        }
    }

    private sealed record QueueBody(IReadOnlyList<ComplianceReview> Reviews);

    private sealed record DecisionsBody(IReadOnlyList<DecisionBody> Decisions);

    private sealed record DecisionBody(Guid Id);
}

/// <summary>Wiring of the console's review desk: an HTTP client of compliance's REST API.</summary>
public static class ReviewDeskExtensions
{
    public static WebApplicationBuilder AddReviewDesk(this WebApplicationBuilder builder)
    {
        var address = builder.Configuration["Services:ComplianceApi"]
            ?? throw new InvalidOperationException("Services:ComplianceApi (compliance's REST API, for the console's review desk) is not configured.");
        builder.Services.AddHttpClient<ComplianceReviews>(client =>
        {
            client.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
            client.Timeout = ComplianceReviews.Timeout;
        });
        return builder;
    }

    /// <summary>The caller's bearer token, as ordering accepted it (the review desk forwards it to compliance).</summary>
    internal static string BearerToken(HttpContext http) =>
        http.Request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? header["Bearer ".Length..].Trim()
            : throw new InvalidOperationException($"A request without a bearer token passed the {BrokeringRoles.Oversight} policy.");
}
