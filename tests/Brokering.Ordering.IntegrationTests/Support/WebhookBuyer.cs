using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>A buyer's system, through the public REST API only: subscribes, submits, cancels and reads its delivery log.</summary>
public sealed class WebhookBuyer(HttpClient client) : IDisposable
{
    private const string Body = """
        {"buyerReference":"PO-HOOK","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
         "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
         "lines":[{"sku":"NVIDIA-H20","quantity":1,"maxUnitPrice":1,"currency":"USD"}]}
        """;

    /// <summary>A bound on waiting for the saga and the dispatcher; reached only if something never happens.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>The event types every test subscribes to.</summary>
    public static readonly string[] StatusChanged = ["reservation.status_changed"];

    public HttpClient Client => client;

    public sealed record Subscription(Guid Id, string Url, string State, string? PausedBecause, int ConsecutiveFailures);

    public sealed record Created(Subscription Subscription, string Secret);

    public sealed record Delivery(Guid Id, string EventId, Guid ReservationId, string Status, int Attempts, int? LastResponseStatus, string? LastError, Guid? ReplayOf, JsonElement Payload)
    {
        public string To => Payload.GetProperty("data").GetProperty("to").GetString()!;
    }

    public sealed record DeliveryPage(List<Delivery> Deliveries, string? Next);

    public Task<Created> SubscribeAsync(string url, params string[] statuses) => SubscribeAfterAsync(url, null, statuses);

    /// <summary>Subscribes to the changes after <paramref name="startAfter"/>, a change feed cursor (null: from now on).</summary>
    public async Task<Created> SubscribeAfterAsync(string url, string? startAfter, params string[] statuses)
    {
        using var response = await client.PostAsJsonAsync("/v1/webhooks/subscriptions",
            new { url, eventTypes = StatusChanged, statuses, description = "test receiver", startAfter });
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        return JsonSerializer.Deserialize<Created>(text, OrderingHost.Json)!;
    }

    public async Task<Subscription> SubscriptionAsync(Guid id) =>
        (await client.GetFromJsonAsync<Subscription>($"/v1/webhooks/subscriptions/{id}", OrderingHost.Json))!;

    /// <summary>The whole log, oldest first.</summary>
    public async Task<List<Delivery>> DeliveriesAsync(Guid subscription)
    {
        var page = await client.GetFromJsonAsync<DeliveryPage>($"/v1/webhooks/subscriptions/{subscription}/deliveries?limit=200", OrderingHost.Json);
        return [.. page!.Deliveries.AsEnumerable().Reverse()];
    }

    /// <summary>Submits a reservation (which moves to Screening: compliance is not running), then cancels it.</summary>
    public async Task<Guid> SubmitAndCancelAsync()
    {
        using var submitted = await client.PostAsync("/v1/reservations", new StringContent(Body, Encoding.UTF8, "application/json"));
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync());
        using var json = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync());
        var id = json.RootElement.GetProperty("id").GetGuid();

        await WaitForStatusAsync(id, "Screening");
        using var cancelled = await client.PostAsync($"/v1/reservations/{id}/cancel", new StringContent("""{"reason":"webhook test"}""", Encoding.UTF8, "application/json"));
        cancelled.StatusCode.ShouldBe(HttpStatusCode.Accepted, await cancelled.Content.ReadAsStringAsync());
        await WaitForStatusAsync(id, "Cancelled");
        return id;
    }

    /// <summary>The cursor of <paramref name="reservation"/>'s change into <paramref name="status"/>, once the change feed serves it.</summary>
    public async Task<string> CursorOfAsync(Guid reservation, string status)
    {
        var found = await Eventually.Latest(async () =>
        {
            string? after = null;
            while (true)
            {
                using var page = JsonDocument.Parse(await client.GetStringAsync($"/v1/reservations/changes{(after is null ? "" : $"?after={Uri.EscapeDataString(after)}")}"));
                var changes = page.RootElement.GetProperty("changes").EnumerateArray().ToList();
                if (changes.FirstOrDefault(c => c.GetProperty("reservationId").GetGuid() == reservation && c.GetProperty("to").GetString() == status) is
                    { ValueKind: JsonValueKind.Object } change)
                {
                    return change.GetProperty("cursor").GetString();
                }

                if (changes.Count == 0)
                {
                    return null;
                }

                after = page.RootElement.GetProperty("next").GetString();
            }
        }, cursor => cursor is not null, Patience);
        return found.ShouldNotBeNull($"{reservation}'s change into {status} in the feed");
    }

    /// <summary>Waits until <paramref name="receiver"/> has accepted <paramref name="count"/> deliveries of <paramref name="reservation"/>.</summary>
    public static async Task<List<ReceivedDelivery>> AcceptedAsync(WebhookReceiver receiver, Guid reservation, int count)
    {
        var accepted = await Eventually.Latest(
            () => Task.FromResult(receiver.Received.Where(r => r.Accepted && r.ReservationId == reservation).ToList()),
            seen => seen.Count >= count, Patience);
        accepted.Count.ShouldBe(count, string.Join("\n", receiver.Received));
        return accepted;
    }

    public void Dispose() => client.Dispose();

    private async Task WaitForStatusAsync(Guid id, string status) =>
        await Eventually.Until(async () =>
        {
            using var view = JsonDocument.Parse(await client.GetStringAsync($"/v1/reservations/{id}"));
            return view.RootElement.GetProperty("status").GetString();
        }, seen => seen == status, Patience, $"reservation {id} to be {status}");
}
