using System.Globalization;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Brokering.Client.Webhooks;

namespace Brokering.Client;

/// <summary>
/// A buyer's client for ordering's REST API (<c>/v1/reservations</c>): submit (one or many at once), read, list, confirm,
/// cancel, follow every status change, and be told of them by webhook (<see cref="Webhooks"/>). Everything it sees is
/// the token's buyer organisation's own.
/// </summary>
/// <remarks>
/// Submissions always carry an Idempotency-Key (made here unless given), so a submission whose answer was lost — a
/// timeout, a dropped connection, a 5xx, a 429 — is sent again with the same key and answers with the same reservation,
/// never a second one. A bulk submission gives every item a key of its own, so it is sent again the same way. Confirm and cancel have no key, so they are sent again only after a 429, which the service
/// answers before it reads the request.
/// </remarks>
public sealed class BuyerClient
{
    private readonly ApiConnection api;

    /// <summary>A client over <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the ordering service.</summary>
    /// <param name="http">The HTTP client; its base address is ordering's (e.g. <c>https://ordering.example.com/</c>).</param>
    /// <param name="tokens">Called before every attempt for the bearer token.</param>
    /// <param name="options">Retries and polling; defaults when null.</param>
    public BuyerClient(HttpClient http, TokenSource tokens, BrokeringClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(http.BaseAddress, "http.BaseAddress");
        api = new ApiConnection(http, tokens, options ?? new BrokeringClientOptions());
        Webhooks = new WebhookSubscriptions(api, "v1/webhooks/subscriptions");
    }

    /// <summary>
    /// The buyer's webhook subscriptions (<c>/v1/webhooks/subscriptions</c>): each status change of its reservations,
    /// POSTed and signed, instead of polling (see <see cref="BuyerWebhookEvents"/>).
    /// </summary>
    public WebhookSubscriptions Webhooks { get; }

    /// <summary>
    /// Submits a reservation. Sent again with the same key when an attempt's answer is lost or the service is briefly
    /// unable to answer; the service replays the first answer for a key it has seen.
    /// </summary>
    /// <param name="reservation">What to reserve.</param>
    /// <param name="idempotencyKey">1 to 200 characters naming this submission; a new one when null. To resubmit
    /// after a crash, persist it before calling and pass it again.</param>
    /// <param name="cancellationToken">Stops waiting (the reservation may have been accepted all the same).</param>
    /// <returns>The reservation's id and status, and the key used.</returns>
    /// <exception cref="BrokeringApiException">Refused: invalid input (400 with field paths), the key used with another body (422), and so on.</exception>
    public async Task<SubmittedReservation> SubmitAsync(
        NewReservation reservation, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        var key = idempotencyKey ?? Guid.NewGuid().ToString("N");
        var accepted = await api.SendAsync<ReservationAccepted>(
            () => new HttpRequestMessage(HttpMethod.Post, "v1/reservations")
            {
                Content = JsonContent.Create(reservation, options: ApiConnection.Json),
                Headers = { { "Idempotency-Key", key } },
            },
            RetrySafety.Idempotent,
            cancellationToken);
        return new SubmittedReservation(accepted.Id, accepted.Status, key);
    }

    /// <summary>
    /// Submits many reservations in one call (<c>POST /v1/reservations/bulk</c>, at most 100). Each is submitted as
    /// <see cref="SubmitAsync"/> would submit it, under its own Idempotency-Key, and answered on its own: some may be
    /// accepted while others are refused, never all or nothing. The call is sent again, whole, when its answer is lost:
    /// the items already accepted answer <c>Replayed</c> with the same reservation.
    /// </summary>
    /// <param name="reservations">What to reserve, one to 100.</param>
    /// <param name="idempotencyKeys">One key per reservation, in the same order (each 1 to 200 characters, unique); new ones when null.
    /// To resend after a crash, persist them before calling and pass them again.</param>
    /// <param name="cancellationToken">Stops waiting (items may have been accepted all the same).</param>
    /// <returns>Each item's result, in request order, with its key: resend the <see cref="BulkOutcome.RateLimited"/>,
    /// <see cref="BulkOutcome.KeyInFlight"/> or <see cref="BulkOutcome.Unavailable"/> ones later with the same key.</returns>
    /// <exception cref="BrokeringApiException">400 when the call as a whole is refused (no reservations, more than the service takes).</exception>
    public async Task<BulkSubmission> SubmitBulkAsync(
        IReadOnlyList<NewReservation> reservations, IReadOnlyList<string>? idempotencyKeys = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reservations);
        if (idempotencyKeys is not null && idempotencyKeys.Count != reservations.Count)
        {
            throw new ArgumentException("One idempotency key per reservation, in the same order.", nameof(idempotencyKeys));
        }

        var keys = idempotencyKeys ?? [.. reservations.Select(_ => Guid.NewGuid().ToString("N"))];
        var items = new JsonArray();
        for (var i = 0; i < reservations.Count; i++)
        {
            var item = JsonSerializer.SerializeToNode(reservations[i], ApiConnection.Json)!.AsObject();
            item["idempotencyKey"] = keys[i];
            items.Add(item);
        }

        var body = items.ToJsonString(ApiConnection.Json);
        return await api.SendAsync<BulkSubmission>(
            () => new HttpRequestMessage(HttpMethod.Post, "v1/reservations/bulk")
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            },
            RetrySafety.Idempotent,
            cancellationToken);
    }

    /// <summary>
    /// Submits a spreadsheet of reservations (<c>POST /v1/reservations/bulk</c> as <c>text/csv</c>, UTF-8): a header row,
    /// then one row per reservation line, its rows tied together by the <c>idempotencyKey</c> column (the columns are
    /// listed in docs/buyer-api.md). Each reservation is answered on its own, with the rows it was read from, never all or
    /// nothing. The keys are the file's own, so the call is sent again, whole, when its answer is lost: the reservations
    /// already accepted answer <c>Replayed</c>.
    /// </summary>
    /// <param name="csv">The file, read from its current position to its end before the first attempt.</param>
    /// <param name="cancellationToken">Stops waiting (reservations may have been accepted all the same).</param>
    /// <returns>Each reservation's result, in the order its key first appears, with its <see cref="BulkItemResult.Rows"/>.</returns>
    /// <exception cref="BrokeringApiException">400 when the file as a whole cannot be read (a missing, unknown or repeated
    /// column: <c>header</c>; broken quoting: <c>body</c>; no rows or too many reservations: <c>items</c>).</exception>
    public async Task<BulkSubmission> SubmitCsvAsync(Stream csv, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(csv);
        // Buffered once, so a retry sends the same bytes (a network stream cannot be rewound).
        using var buffer = new MemoryStream();
        await csv.CopyToAsync(buffer, cancellationToken);
        var body = buffer.ToArray();
        return await api.SendAsync<BulkSubmission>(
            () => new HttpRequestMessage(HttpMethod.Post, "v1/reservations/bulk")
            {
                Content = new ByteArrayContent(body) { Headers = { ContentType = new("text/csv") { CharSet = "utf-8" } } },
            },
            RetrySafety.Idempotent,
            cancellationToken);
    }

    /// <summary>Submits a spreadsheet of reservations given as text; see <see cref="SubmitCsvAsync(Stream, CancellationToken)"/>.</summary>
    /// <param name="csv">The file's text.</param>
    /// <param name="cancellationToken">Stops waiting (reservations may have been accepted all the same).</param>
    /// <returns>Each reservation's result with the rows it was read from.</returns>
    public async Task<BulkSubmission> SubmitCsvAsync(string csv, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(csv);
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(csv));
        return await SubmitCsvAsync(stream, cancellationToken);
    }

    /// <summary>A reservation as it stands.</summary>
    /// <param name="id">Its id.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The reservation.</returns>
    /// <exception cref="BrokeringApiException">404 when the caller has no such reservation.</exception>
    public Task<Reservation> GetAsync(Guid id, CancellationToken cancellationToken = default) =>
        api.SendAsync<Reservation>(() => new HttpRequestMessage(HttpMethod.Get, $"v1/reservations/{id}"), RetrySafety.Idempotent, cancellationToken);

    /// <summary>One page of the caller's reservations, newest first.</summary>
    /// <param name="filter">Which reservations; all when null.</param>
    /// <param name="cursor">A page's <see cref="ReservationPage.Next"/> for the page after it; null for the first.</param>
    /// <param name="limit">1 to 200 a page; the service's default (50) when null.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The page.</returns>
    public Task<ReservationPage> ListAsync(
        ReservationFilter? filter = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var query = new StringBuilder("v1/reservations?");
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                query.Append(name).Append('=').Append(Uri.EscapeDataString(value)).Append('&');
            }
        }

        foreach (var status in filter?.Statuses ?? [])
        {
            Add("status", status);
        }

        Add("buyerReference", filter?.BuyerReference);
        Add("sku", filter?.Sku);
        Add("submittedFrom", filter?.SubmittedFrom?.ToString("O", CultureInfo.InvariantCulture));
        Add("submittedTo", filter?.SubmittedTo?.ToString("O", CultureInfo.InvariantCulture));
        Add("limit", limit?.ToString(CultureInfo.InvariantCulture));
        Add("cursor", cursor);
        var path = query.ToString().TrimEnd('&', '?');
        return api.SendAsync<ReservationPage>(() => new HttpRequestMessage(HttpMethod.Get, path), RetrySafety.Idempotent, cancellationToken);
    }

    /// <summary>Every reservation matching <paramref name="filter"/>, newest first, reading page after page.</summary>
    /// <param name="filter">Which reservations; all when null.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The reservations.</returns>
    public async IAsyncEnumerable<Reservation> ListAllAsync(
        ReservationFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListAsync(filter, cursor, limit: 200, cancellationToken);
            foreach (var reservation in page.Reservations)
            {
                yield return reservation;
            }

            cursor = page.Next;
        }
        while (cursor is not null);
    }

    /// <summary>Confirms a Held reservation (or an AwaitingStock one holding at least its minimum fill).</summary>
    /// <param name="id">The reservation.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The reservation, moving to <c>Confirming</c>.</returns>
    /// <exception cref="BrokeringApiException">404 for no such reservation; 409 when its status does not allow it.</exception>
    public Task<ReservationAccepted> ConfirmAsync(Guid id, CancellationToken cancellationToken = default) =>
        api.SendAsync<ReservationAccepted>(
            () => new HttpRequestMessage(HttpMethod.Post, $"v1/reservations/{id}/confirm"), RetrySafety.OnlyIfRefusedUnread, cancellationToken);

    /// <summary>Cancels a reservation that has not ended; everything held for it is released.</summary>
    /// <param name="id">The reservation.</param>
    /// <param name="reason">Why, at most 500 characters; kept in its history.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The reservation, moving to <c>Cancelled</c>.</returns>
    /// <exception cref="BrokeringApiException">404 for no such reservation; 409 when it has already ended.</exception>
    public Task<ReservationAccepted> CancelAsync(Guid id, string? reason = null, CancellationToken cancellationToken = default) =>
        api.SendAsync<ReservationAccepted>(
            () => new HttpRequestMessage(HttpMethod.Post, $"v1/reservations/{id}/cancel")
            {
                Content = JsonContent.Create(new { reason }, options: ApiConnection.Json),
            },
            RetrySafety.OnlyIfRefusedUnread,
            cancellationToken);

    /// <summary>One read of the change feed: up to <see cref="BrokeringClientOptions.ChangePageSize"/> changes after <paramref name="after"/>.</summary>
    /// <param name="after">A change's cursor or a page's next; from the first change when null.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The changes and where to read on from.</returns>
    public Task<ReservationChangePage> ReadChangesAsync(string? after = null, CancellationToken cancellationToken = default)
    {
        var path = $"v1/reservations/changes?limit={api.Options.ChangePageSize.ToString(CultureInfo.InvariantCulture)}"
            + (after is null ? string.Empty : $"&after={Uri.EscapeDataString(after)}");
        return api.SendAsync<ReservationChangePage>(() => new HttpRequestMessage(HttpMethod.Get, path), RetrySafety.Idempotent, cancellationToken);
    }

    /// <summary>
    /// Every status change of the caller's reservations after <paramref name="after"/>, oldest first, without end:
    /// when the feed has nothing new it waits <see cref="BrokeringClientOptions.ChangePollInterval"/> and reads again.
    /// Each change is seen once and none is skipped; to resume after a restart, pass the last handled change's
    /// <see cref="ReservationChange.Cursor"/>.
    /// </summary>
    /// <param name="after">A change's cursor; from the first change when null.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The changes, as they happen.</returns>
    public async IAsyncEnumerable<ReservationChange> ChangesAsync(
        string? after = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var cursor = after;
        while (true)
        {
            var page = await ReadChangesAsync(cursor, cancellationToken);
            foreach (var change in page.Changes)
            {
                yield return change;
            }

            cursor = page.Next;
            if (page.Changes.Count < api.Options.ChangePageSize)
            {
                await Task.Delay(api.Options.ChangePollInterval, cancellationToken);
            }
        }
    }
}
