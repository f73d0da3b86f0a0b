using Brokering.Testing.Installation;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Shouldly;
using Brokering.Testing;

namespace Brokering.EndToEnd.Tests;

/// <summary>One line of a reservation as a buyer submits it.</summary>
public sealed record Line(string Sku, long Quantity, decimal MaxUnitPrice, string Currency = "USD");

/// <summary>
/// Drives buyers' reservations through ordering's public REST API (clients always come from
/// <see cref="BrokeringSystem"/>'s role methods, or from a deployment recipe's own issuer) and waits for them to get
/// somewhere.
/// </summary>
public sealed class ReservationDriver
{
    private readonly BrokeringSystem? system;
    private readonly Func<string, HttpClient> buyers;
    private readonly Func<string> logs;

    public ReservationDriver(BrokeringSystem system)
        : this(system.Buyer, () => system.Logs)
    {
        this.system = system;
    }

    /// <summary>A driver of an installation the tests did not lay out: <paramref name="buyers"/> makes a buyer's client of ordering.</summary>
    public ReservationDriver(Func<string, HttpClient> buyers, Func<string> logs)
    {
        this.buyers = buyers;
        this.logs = logs;
    }

    private BrokeringSystem System => system ?? throw new InvalidOperationException("Only for a BrokeringSystem's driver.");

    public static readonly IReadOnlySet<string> TerminalStates =
        new HashSet<string>(["Confirmed", "Rejected", "Cancelled", "Expired", "CutoffMissed"], StringComparer.Ordinal);

    /// <summary>States a reservation rests in until someone (buyer, feed, clock) acts.</summary>
    public static readonly IReadOnlySet<string> RestingStates =
        new HashSet<string>(["Held", "AwaitingStock", .. TerminalStates], StringComparer.Ordinal);

    /// <summary>A submission body exactly as the public API takes it.</summary>
    public static object Body(
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

    /// <summary>Submits and expects 202 Accepted; returns the reservation id.</summary>
    public async Task<Guid> SubmitAsync(string buyerId, object body, CancellationToken cancellationToken, string? idempotencyKey = null)
    {
        using var response = await PostAsync(buyerId, body, idempotencyKey, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("id").GetGuid();
    }

    /// <summary>Posts a submission and hands back the raw response.</summary>
    public async Task<HttpResponseMessage> PostAsync(string buyerId, object body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var buyer = buyers(buyerId);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations") { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await buyer.SendAsync(request, cancellationToken);
    }

    public async Task<JsonElement> GetAsync(string buyerId, Guid id, CancellationToken cancellationToken)
    {
        using var buyer = buyers(buyerId);
        return await buyer.GetFromJsonAsync<JsonElement>($"/v1/reservations/{id}", cancellationToken);
    }

    /// <summary>Asks to confirm and expects 202 Accepted.</summary>
    public async Task ConfirmAsync(string buyerId, Guid id, CancellationToken cancellationToken)
    {
        using var buyer = buyers(buyerId);
        using var response = await buyer.PostAsync(new Uri($"/v1/reservations/{id}/confirm", UriKind.Relative), null, cancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    /// <summary>Polls the reservation until <paramref name="condition"/> holds; throws with the system's logs after <paramref name="patience"/>.</summary>
    public Task<JsonElement> WaitUntilAsync(
        string buyerId, Guid id, Func<JsonElement, bool> condition, string expectation, TimeSpan patience, CancellationToken cancellationToken) =>
        Eventually.Until(() => GetAsync(buyerId, id, cancellationToken), condition, patience, $"reservation {id} of {buyerId} to become {expectation}",
            TimeSpan.FromMilliseconds(150), details: logs, cancellationToken: cancellationToken);

    /// <summary>
    /// Polls the reservation at <paramref name="location"/> through <paramref name="buyer"/> until it is <paramref name="status"/>;
    /// fails at once if it ends in another state instead, and with <paramref name="system"/>'s logs after <paramref name="patience"/>.
    /// </summary>
    public static Task<JsonElement> WaitForStatusAsync(
        BrokeringSystem system, HttpClient buyer, Uri location, string status, TimeSpan patience, CancellationToken cancellationToken) =>
        Eventually.Until(async () =>
        {
            var view = await buyer.GetFromJsonAsync<JsonElement>(location, cancellationToken);
            var current = view.GetProperty("status").GetString();
            if (current != status)
            {
                current.ShouldNotBeOneOf(["Rejected", "Cancelled", "Expired", "CutoffMissed"], $"{view}\n{system.Logs}");
            }

            return view;
        }, view => view.GetProperty("status").GetString() == status, patience, $"status {status}", TimeSpan.FromMilliseconds(200),
            details: () => system.Logs, cancellationToken: cancellationToken);

    /// <summary>Waits until the reservation rests: Held, AwaitingStock, or ended.</summary>
    public Task<JsonElement> WaitUntilRestingAsync(string buyerId, Guid id, TimeSpan patience, CancellationToken cancellationToken) =>
        WaitUntilAsync(buyerId, id, view => RestingStates.Contains(Status(view)), "Held, AwaitingStock or ended", patience, cancellationToken);

    /// <summary>Waits until the reservation has ended.</summary>
    public Task<JsonElement> WaitUntilEndedAsync(string buyerId, Guid id, TimeSpan patience, CancellationToken cancellationToken) =>
        WaitUntilAsync(buyerId, id, view => TerminalStates.Contains(Status(view)), "ended", patience, cancellationToken);

    /// <summary>How many sagas the ops API lists for a buyer.</summary>
    public async Task<int> OpsCountAsync(string buyerId, CancellationToken cancellationToken)
    {
        using var ops = System.Operator();
        var page = await ops.GetFromJsonAsync<JsonElement>($"/v1/ops/sagas?buyer={Uri.EscapeDataString(buyerId)}", cancellationToken);
        return page.GetProperty("total").GetInt32();
    }

    /// <summary>How many reservations ordering has accepted for a buyer (read-only look at its database).</summary>
    public async Task<long> StoredReservationsAsync(string buyerId, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(System.OrderingDatabase);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM reservations WHERE buyer_id = @buyer", connection);
        command.Parameters.AddWithValue("buyer", buyerId);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public static string Status(JsonElement view) => view.GetProperty("status").GetString()!;

    public static string? Reason(JsonElement view) =>
        view.TryGetProperty("statusReason", out var reason) && reason.ValueKind == JsonValueKind.String ? reason.GetString() : null;

    /// <summary>Units the buyer is shown allocated, over all lines.</summary>
    public static long Allocated(JsonElement view) => view.GetProperty("lines").EnumerateArray().Sum(line => line.GetProperty("allocated").GetInt64());

    /// <summary>Units the buyer is shown allocated, per distributor.</summary>
    public static SortedDictionary<string, long> AllocatedByDistributor(JsonElement view) =>
        new(view.GetProperty("lines").EnumerateArray()
            .SelectMany(line => line.GetProperty("allocations").EnumerateArray())
            .GroupBy(allocation => allocation.GetProperty("distributorId").GetString()!)
            .ToDictionary(g => g.Key, g => g.Sum(allocation => allocation.GetProperty("quantity").GetInt64())), StringComparer.Ordinal);
}
