using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Invariants;

namespace Brokering.Testing.Scramble;

/// <summary>The three services a scramble talks to.</summary>
public enum ScrambleService
{
    Ordering,
    Inventory,
    Compliance,
}

/// <summary>
/// A client of <paramref name="service"/> (its base address set) carrying the token of <paramref name="role"/> acting for
/// <paramref name="tenant"/> (a buyer or distributor id, or null). The driver disposes it after one call, so a caller
/// may hand out a fresh client of the next replica each time, or a light client over one shared handler.
/// </summary>
public delegate HttpClient ScrambleClients(ScrambleService service, string role, string? tenant);

/// <summary>What a service answered: its status and its body.</summary>
public sealed record ApiAnswer(HttpStatusCode Status, string Body)
{
    public bool Is(params HttpStatusCode[] expected) => expected.Contains(Status);

    /// <summary>This answer, or an <see cref="InvalidOperationException"/> naming <paramref name="what"/> and the answer.</summary>
    public ApiAnswer Expect(string what, params HttpStatusCode[] expected) =>
        Is(expected) ? this : throw new InvalidOperationException($"{what}: {(int)Status} {Body}");

    public JsonElement Json() => JsonSerializer.Deserialize<JsonElement>(Body);

    /// <summary>The id of the reservation a 202 Accepted answer names.</summary>
    public Guid ReservationId() => Json().GetProperty("id").GetGuid();
}

/// <summary>One change of a buyer's reservations, as <c>GET /v1/reservations/changes</c> gives it.</summary>
public sealed record ReservationChange(string Cursor, Guid ReservationId, string From, string To, string Event, string? Reason, DateTimeOffset At);

/// <summary>A page of a buyer's change feed and the cursor to read on from.</summary>
public sealed record ReservationChanges(List<ReservationChange> Changes, string Next);

/// <summary>
/// The one scramble driver of the tests, the fault suite and the load generator: buyers submit reservations (each with
/// its Idempotency-Key), follow them to their end and confirm or cancel them; distributors publish their stock feeds;
/// compliance publishes the scenario rule sets; afterwards the invariants are checked until they settle. Every call goes
/// through the services' public REST APIs with the caller's clients (<see cref="ScrambleClients"/>). The driver takes no
/// decisions of a scenario's: what to submit, when to retry, what to assert stay with the load run, the fault workload or
/// the test that tells the story.
/// </summary>
public sealed class ScrambleDriver(ScrambleClients clients, Func<string>? details = null)
{
    private const string BuyerRole = "buyer";
    private const string DistributorRole = "distributor";
    private const string OpsRole = "ops";
    private const string OfficerRole = "compliance-officer";

    /// <summary>A submission body exactly as the public API takes it.</summary>
    public static object Reservation(
        string reference, string endUser, string fillPolicy, string confirmation, IEnumerable<Line> lines,
        decimal? minFillRatio = null, string destination = "CN", string endUserCountry = "CN") => new
        {
            buyerReference = reference,
            endUser = new { name = endUser, country = endUserCountry },
            destinationCountry = destination,
            fillPolicy = new { kind = fillPolicy, minFillRatio },
            confirmation,
            lines = lines.Select(line => new { sku = line.Sku, quantity = line.Quantity, maxUnitPrice = line.MaxUnitPrice, currency = line.Currency }),
        };

    /// <summary>A snapshot item: what a distributor has on hand of one SKU at one warehouse, and at what price.</summary>
    public static object OnHand(string sku, string warehouse, long quantity, decimal unitPrice) =>
        new { sku, warehouse, quantityOnHand = quantity, unitPrice, currency = "USD", leadTimeDays = 3, minimumOrderQuantity = 1 };

    /// <summary>A delta item: units of one SKU at one warehouse come in (positive) or go elsewhere (negative).</summary>
    public static object Change(string sku, string warehouse, long change) => new { sku, warehouse, quantityChange = change };

    /// <summary>Posts a submission and hands back the raw response (content read).</summary>
    public async Task<HttpResponseMessage> PostReservationAsync(string buyerId, object body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var buyer = clients(ScrambleService.Ordering, BuyerRole, buyerId);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations") { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await buyer.SendAsync(request, cancellationToken);
    }

    /// <summary>Submits a reservation; 202 Accepted names its id (<see cref="ApiAnswer.ReservationId"/>).</summary>
    public async Task<ApiAnswer> SubmitAsync(string buyerId, object body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var response = await PostReservationAsync(buyerId, body, idempotencyKey, cancellationToken);
        return await AnswerAsync(response, cancellationToken);
    }

    /// <summary>Submits and expects 202 Accepted; returns the reservation id.</summary>
    public async Task<Guid> SubmitAcceptedAsync(string buyerId, object body, CancellationToken cancellationToken, string? idempotencyKey = null) =>
        (await SubmitAsync(buyerId, body, idempotencyKey, cancellationToken))
            .Expect($"submitting a reservation of {buyerId}", HttpStatusCode.Accepted).ReservationId();

    /// <summary>The reservation as its buyer sees it; throws unless the answer is a success.</summary>
    public async Task<JsonElement> GetAsync(string buyerId, Guid id, CancellationToken cancellationToken)
    {
        using var buyer = clients(ScrambleService.Ordering, BuyerRole, buyerId);
        return await buyer.GetFromJsonAsync<JsonElement>($"/v1/reservations/{id}", cancellationToken);
    }

    /// <summary>The reservation as its buyer sees it, or null when ordering does not answer 200.</summary>
    public async Task<JsonElement?> TryGetAsync(string buyerId, Guid id, CancellationToken cancellationToken)
    {
        using var buyer = clients(ScrambleService.Ordering, BuyerRole, buyerId);
        using var response = await buyer.GetAsync(new Uri($"/v1/reservations/{id}", UriKind.Relative), cancellationToken);
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken) : null;
    }

    /// <summary>Asks to confirm; ordering answers 202 Accepted when it took the request.</summary>
    public async Task<ApiAnswer> ConfirmAsync(string buyerId, Guid id, CancellationToken cancellationToken)
    {
        using var buyer = clients(ScrambleService.Ordering, BuyerRole, buyerId);
        using var response = await buyer.PostAsync(new Uri($"/v1/reservations/{id}/confirm", UriKind.Relative), null, cancellationToken);
        return await AnswerAsync(response, cancellationToken);
    }

    /// <summary>Asks to confirm and expects 202 Accepted.</summary>
    public async Task ConfirmAcceptedAsync(string buyerId, Guid id, CancellationToken cancellationToken) =>
        (await ConfirmAsync(buyerId, id, cancellationToken)).Expect($"confirming reservation {id} of {buyerId}", HttpStatusCode.Accepted);

    /// <summary>Asks to cancel for <paramref name="reason"/>; ordering answers 202 Accepted when it took the request.</summary>
    public async Task<ApiAnswer> CancelAsync(string buyerId, Guid id, string reason, CancellationToken cancellationToken)
    {
        using var buyer = clients(ScrambleService.Ordering, BuyerRole, buyerId);
        using var response = await buyer.PostAsJsonAsync($"/v1/reservations/{id}/cancel", new { reason }, cancellationToken);
        return await AnswerAsync(response, cancellationToken);
    }

    /// <summary>The buyer's next page of changes (up to 1000) after <paramref name="after"/> (null: from the start).</summary>
    public async Task<ReservationChanges> ReadChangesAsync(string buyerId, string? after, CancellationToken cancellationToken)
    {
        using var buyer = clients(ScrambleService.Ordering, BuyerRole, buyerId);
        var path = after is null ? "/v1/reservations/changes?limit=1000" : $"/v1/reservations/changes?limit=1000&after={Uri.EscapeDataString(after)}";
        using var response = await buyer.GetAsync(new Uri(path, UriKind.Relative), cancellationToken);
        var answer = (await AnswerAsync(response, cancellationToken)).Expect("reading the change feed", HttpStatusCode.OK);
        return JsonSerializer.Deserialize<ReservationChanges>(answer.Body, JsonSerializerOptions.Web)
            ?? throw new InvalidOperationException("reading the change feed: an empty answer.");
    }

    /// <summary>Publishes one stock-feed update (<c>Snapshot</c> or <c>Delta</c>) as the distributor, with its own token.</summary>
    public async Task<ApiAnswer> PublishStockAsync(string distributorId, long sequence, string kind, IEnumerable<object> items, CancellationToken cancellationToken)
    {
        using var distributor = clients(ScrambleService.Inventory, DistributorRole, distributorId);
        using var response = await distributor.PostAsJsonAsync($"/v1/distributors/{distributorId}/stock-feed",
            new { distributorId, sequence, kind, items }, cancellationToken);
        return await AnswerAsync(response, cancellationToken);
    }

    /// <summary>Publishes a scenario rule set modelled on the 2023 rule, in force from <paramref name="effectiveAt"/>.</summary>
    public async Task<ApiAnswer> PublishRuleSetAsync(string version, DateTimeOffset effectiveAt, string description, CancellationToken cancellationToken)
    {
        using var officer = clients(ScrambleService.Compliance, OfficerRole, null);
        using var response = await officer.PostAsJsonAsync("/v1/rule-sets", new { version, effectiveAt, basedOn = "2023-10-17", description }, cancellationToken);
        return await AnswerAsync(response, cancellationToken);
    }

    /// <summary>
    /// Registers a buyer organisation with compliance, as an officer (<c>PUT /v1/buyers/{id}</c>: its own ultimate
    /// parent), so screening knows whom it screens; production refuses a buyer it does not know.
    /// </summary>
    public async Task<ApiAnswer> RegisterBuyerAsync(string buyerId, string legalName, string country, CancellationToken cancellationToken)
    {
        using var officer = clients(ScrambleService.Compliance, OfficerRole, null);
        using var response = await officer.PutAsJsonAsync($"/v1/buyers/{Uri.EscapeDataString(buyerId)}", new { legalName, country }, cancellationToken);
        return await AnswerAsync(response, cancellationToken);
    }

    /// <summary>Registers a distributor (201 Created, or 200 OK when it already was), as an operator.</summary>
    public async Task<ApiAnswer> RegisterDistributorAsync(string id, string name, CancellationToken cancellationToken)
    {
        using var ops = clients(ScrambleService.Inventory, OpsRole, null);
        using var response = await ops.PostAsJsonAsync("/v1/distributors", new { id, name }, cancellationToken);
        return await AnswerAsync(response, cancellationToken);
    }

    /// <summary>The last feed sequence inventory applied of the distributor: the next update carries one more.</summary>
    public async Task<long> LastSequenceAsync(string distributorId, CancellationToken cancellationToken)
    {
        using var ops = clients(ScrambleService.Inventory, OpsRole, null);
        using var response = await ops.GetAsync(new Uri($"/v1/distributors/{distributorId}", UriKind.Relative), cancellationToken);
        return (await AnswerAsync(response, cancellationToken)).Expect("reading a distributor", HttpStatusCode.OK)
            .Json().GetProperty("lastSequence").GetInt64();
    }

    /// <summary>Units of <paramref name="sku"/> the distributor has free (on offer), over its warehouses.</summary>
    public async Task<long> AvailableAsync(string distributorId, string sku, CancellationToken cancellationToken)
    {
        using var ops = clients(ScrambleService.Inventory, OpsRole, null);
        using var response = await ops.GetAsync(new Uri($"/v1/skus/{sku}/offers", UriKind.Relative), cancellationToken);
        var offers = (await AnswerAsync(response, cancellationToken)).Expect("reading offers", HttpStatusCode.OK).Json();
        return offers.EnumerateArray().Where(o => o.GetProperty("distributorId").GetString() == distributorId).Sum(o => o.GetProperty("available").GetInt64());
    }

    /// <summary>Polls the reservation until <paramref name="condition"/> holds; throws with the system's logs after <paramref name="patience"/>.</summary>
    public Task<JsonElement> WaitUntilAsync(
        string buyerId, Guid id, Func<JsonElement, bool> condition, string expectation, TimeSpan patience, CancellationToken cancellationToken) =>
        Eventually.Until(() => GetAsync(buyerId, id, cancellationToken), condition, patience, $"reservation {id} of {buyerId} to become {expectation}",
            TimeSpan.FromMilliseconds(150), details: details, cancellationToken: cancellationToken);

    /// <summary>Waits until the reservation rests: Held, AwaitingStock, or ended.</summary>
    public Task<JsonElement> WaitUntilRestingAsync(string buyerId, Guid id, TimeSpan patience, CancellationToken cancellationToken) =>
        WaitUntilAsync(buyerId, id, view => ReservationView.RestingStates.Contains(ReservationView.Status(view)), "Held, AwaitingStock or ended", patience, cancellationToken);

    /// <summary>Waits until the reservation has ended.</summary>
    public Task<JsonElement> WaitUntilEndedAsync(string buyerId, Guid id, TimeSpan patience, CancellationToken cancellationToken) =>
        WaitUntilAsync(buyerId, id, view => ReservationView.Ended(ReservationView.Status(view)), "ended", patience, cancellationToken);

    /// <summary>
    /// Polls the reservation at <paramref name="location"/> through <paramref name="buyer"/> until it is <paramref name="status"/>;
    /// fails at once if it ends in another state instead, and with <paramref name="details"/> after <paramref name="patience"/>.
    /// </summary>
    public static Task<JsonElement> WaitForStatusAsync(
        HttpClient buyer, Uri location, string status, TimeSpan patience, Func<string> details, CancellationToken cancellationToken) =>
        Eventually.Until(async () =>
        {
            ArgumentNullException.ThrowIfNull(buyer);
            var view = await buyer.GetFromJsonAsync<JsonElement>(location, cancellationToken);
            var current = ReservationView.Status(view);
            return current != status && ReservationView.Ended(current)
                ? throw new InvalidOperationException($"The reservation ended {current} instead of becoming {status}: {view}\n{details()}")
                : view;
        }, view => ReservationView.Status(view) == status, patience, $"status {status}", TimeSpan.FromMilliseconds(200),
            details: details, cancellationToken: cancellationToken);

    /// <summary>
    /// Checks the invariants until they hold or <paramref name="settle"/> passes, and returns the last report: releases
    /// of ended reservations' holds land asynchronously.
    /// </summary>
    public static Task<InvariantReport> SettleInvariantsAsync(
        InvariantDatabases databases, TimeSpan settle, TimeSpan interval, CancellationToken cancellationToken) =>
        Eventually.Latest(() => InvariantChecker.CheckAsync(databases, new InvariantCheckOptions(), cancellationToken), report => report.Passed, settle,
            interval, cancellationToken: cancellationToken);

    private static async Task<ApiAnswer> AnswerAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        new(response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
}
