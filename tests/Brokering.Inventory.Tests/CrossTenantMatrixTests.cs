using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Testing;
using Grpc.Core;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Two distributors, and every inventory endpoint a distributor (or a buyer) may call tried by one against the other's
/// feed: refused, and the other's feed left exactly as it was. The list comes from the running service and the role
/// matrix, so a tenant-reachable route added later without an entry here fails.
/// </summary>
public sealed class CrossTenantMatrixTests(InventoryFixture fixture) : IClassFixture<InventoryFixture>
{
    private const string Theirs = "avnet";
    private const string Rival = "arrow";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_endpoint_a_distributor_may_call_refuses_another_distributors_feed_and_leaves_it_as_it_was()
    {
        var before = await DistributorAsync(Theirs);
        // Holds and an order at a distributor of this test's own, which the rival must not see and the owner must.
        var owner = await fixture.NewDistributorAsync();
        // A webhook subscription of the owner's, made before its holds so that their events become deliveries in its log.
        var subscription = await WebhookAsync(owner, HttpMethod.Post, Hooks, new { url = "https://erp.example.com/hooks", eventTypes = HoldsPlaced });
        var subscriptionId = subscription.GetProperty("subscription").GetProperty("id").GetGuid();
        var ordered = await HoldAndCommitAsync(owner);
        var deliveryId = (await Eventually.Latest(() => WebhookAsync(owner, HttpMethod.Get, $"{Hooks}/{subscriptionId}/deliveries"),
            log => log.GetProperty("deliveries").GetArrayLength() > 0)).GetProperty("deliveries")[0].GetProperty("id").GetGuid();
        async Task RefusedAsync(HttpMethod method, string path)
        {
            using var client = fixture.A.CreateClient();
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestTokens.Distributor(Rival));
            using var response = await client.SendAsync(request, Cancel);
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, $"{method} {path} as the rival");
        }

        var probes = new Dictionary<string, Func<Task>>
        {
            ["POST /v1/distributors/{id}/stock-feed"] = async () =>
            {
                using var response = await SendAsync(HttpMethod.Post, $"/v1/distributors/{Theirs}/stock-feed",
                    new { distributorId = Theirs, sequence = long.MaxValue / 2, kind = "Snapshot", items = Array.Empty<object>() });
                response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
                response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
            },
            ["PUT /v1/distributors/{id}/feed-key"] = async () =>
            {
                using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                using var response = await SendAsync(HttpMethod.Put, $"/v1/distributors/{Theirs}/feed-key",
                    new { publicKey = key.ExportSubjectPublicKeyInfoPem(), proof = (string?)null });
                response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
            },
            ["GET /v1/distributor/holds"] = async () =>
            {
                (await ReservationsListedAsync(owner, "/v1/distributor/holds", "holds")).ShouldContain(ordered, "the owner sees its hold");
                (await ReservationsListedAsync(Rival, "/v1/distributor/holds", "holds")).ShouldNotContain(ordered);
                (await ReservationsListedAsync(Rival, "/v1/distributor/holds?status=committed&sku=NVIDIA-A800-SXM4-80GB", "holds")).ShouldNotContain(ordered);
            },
            ["GET /v1/distributor/orders"] = async () =>
            {
                (await ReservationsListedAsync(owner, "/v1/distributor/orders", "orders")).ShouldContain(ordered, "the owner sees its order");
                (await ReservationsListedAsync(Rival, "/v1/distributor/orders", "orders")).ShouldNotContain(ordered);
            },
            ["POST /v1/distributor/webhooks/subscriptions/"] = async () =>
            {
                await WebhookAsync(Rival, HttpMethod.Post, Hooks, new { url = "https://rival.example.com/hooks", eventTypes = OrderPlaced });
                (await WebhookAsync(owner, HttpMethod.Get, Hooks)).GetProperty("subscriptions").EnumerateArray().Select(s => s.GetProperty("id").GetGuid())
                    .ShouldBe([subscriptionId], "the rival's subscription is its own, not the owner's");
            },
            ["GET /v1/distributor/webhooks/subscriptions/"] = async () =>
                (await WebhookAsync(Rival, HttpMethod.Get, Hooks)).GetProperty("subscriptions").EnumerateArray()
                    .ShouldNotContain(s => s.GetProperty("id").GetGuid() == subscriptionId),
            ["GET /v1/distributor/webhooks/subscriptions/{id:guid}"] = () => RefusedAsync(HttpMethod.Get, $"{Hooks}/{subscriptionId}"),
            ["DELETE /v1/distributor/webhooks/subscriptions/{id:guid}"] = () => RefusedAsync(HttpMethod.Delete, $"{Hooks}/{subscriptionId}"),
            ["POST /v1/distributor/webhooks/subscriptions/{id:guid}/pause"] = () => RefusedAsync(HttpMethod.Post, $"{Hooks}/{subscriptionId}/pause"),
            ["POST /v1/distributor/webhooks/subscriptions/{id:guid}/resume"] = () => RefusedAsync(HttpMethod.Post, $"{Hooks}/{subscriptionId}/resume"),
            ["GET /v1/distributor/webhooks/subscriptions/{id:guid}/deliveries"] = () => RefusedAsync(HttpMethod.Get, $"{Hooks}/{subscriptionId}/deliveries"),
            ["POST /v1/distributor/webhooks/subscriptions/{id:guid}/deliveries/{deliveryId:guid}/replay"] =
                () => RefusedAsync(HttpMethod.Post, $"{Hooks}/{subscriptionId}/deliveries/{deliveryId}/replay"),
            ["POST /brokering.inventory.v1.StockFeeds/Publish"] = async () =>
            {
                using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor(Rival), cancellationToken: Cancel);
                await call.RequestStream.WriteAsync(new StockUpdate { DistributorId = Theirs, Sequence = long.MaxValue / 2, Kind = UpdateKind.Snapshot }, Cancel);
                await call.RequestStream.CompleteAsync();
                (await Should.ThrowAsync<RpcException>(async () => await call)).StatusCode.ShouldBe(StatusCode.PermissionDenied);
            },
        };
        var withoutTenantData = new Dictionary<string, string>(CrossTenantMatrix.ServiceDefaultsWithoutTenantData)
        {
            ["GET /v1/distributors/"] = "the distributor directory: who publishes stock and how fresh each feed is, shown to every caller so buyers can judge offers; no stock levels, holds or orders",
            ["GET /v1/distributors/{id}"] = "one entry of the same directory",
        };

        var failures = await CrossTenantMatrix.VerifyAsync(fixture.A.Services, AuthorizationTests.Expected, probes, withoutTenantData);

        failures.ShouldBeEmpty(string.Join("\n", failures));
        var after = await DistributorAsync(Theirs);
        (after.GetProperty("lastSequence").GetInt64(), after.GetProperty("feedKeyFingerprint").ToString())
            .ShouldBe((before.GetProperty("lastSequence").GetInt64(), before.GetProperty("feedKeyFingerprint").ToString()),
                "the other distributor's feed sequence and key are as they were");
        var owned = await WebhookAsync(owner, HttpMethod.Get, $"{Hooks}/{subscriptionId}");
        owned.GetProperty("state").GetString().ShouldBe("Active", "the rival's pause did not touch the owner's subscription, nor its delete remove it");
        (await WebhookAsync(owner, HttpMethod.Get, $"{Hooks}/{subscriptionId}/deliveries")).GetProperty("deliveries").EnumerateArray()
            .ShouldNotContain(d => d.GetProperty("replayOf").ValueKind != JsonValueKind.Null, "the rival's replay queued nothing");
    }

    private const string Hooks = "/v1/distributor/webhooks/subscriptions";
    private static readonly string[] HoldsPlaced = ["holds.placed"];
    private static readonly string[] OrderPlaced = ["order.placed"];

    /// <summary>A webhook call with a distributor's token; it must succeed.</summary>
    private async Task<JsonElement> WebhookAsync(string distributor, HttpMethod method, string path, object? body = null)
    {
        using var client = fixture.A.CreateClient();
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestTokens.Distributor(distributor));
        using var response = await client.SendAsync(request, Cancel);
        response.IsSuccessStatusCode.ShouldBeTrue($"{method} {path}: {await response.Content.ReadAsStringAsync(Cancel)}");
        return await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
    }

    private async Task<Guid> HoldAndCommitAsync(string distributor)
    {
        await fixture.SnapshotAsync(distributor, 1, new Stock("NVIDIA-A800-SXM4-80GB", "SG1", 10));
        var reservation = Guid.NewGuid();
        var request = InventoryFixture.PlaceRequest(reservation, 1, TimeSpan.FromMinutes(10), InventoryFixture.Hold(distributor, "NVIDIA-A800-SXM4-80GB", "SG1", 4));
        request.BuyerOrganisation = "acme-servers";
        await fixture.A.Ledger.PlaceHoldsAsync(request, cancellationToken: Cancel);
        await fixture.A.Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(),
            CommitBefore = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(5)),
        }, cancellationToken: Cancel);
        return reservation;
    }

    /// <summary>Every reservation id on every page of a distributor's list, read with that distributor's token.</summary>
    private async Task<List<Guid>> ReservationsListedAsync(string distributor, string path, string items)
    {
        var ids = new List<Guid>();
        string? next = null;
        do
        {
            using var client = fixture.A.CreateClient();
            var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
            using var request = new HttpRequestMessage(HttpMethod.Get, next is null ? path : $"{path}{separator}cursor={next}");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestTokens.Distributor(distributor));
            using var response = await client.SendAsync(request, Cancel);
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            var page = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
            ids.AddRange(page.GetProperty(items).EnumerateArray().Select(e => e.GetProperty("reservationId").GetGuid()));
            next = page.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next").GetString();
        }
        while (next is not null);

        return ids;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object body)
    {
        using var client = fixture.A.CreateClient();
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestTokens.Distributor(Rival));
        return await client.SendAsync(request, Cancel);
    }

    private async Task<JsonElement> DistributorAsync(string id)
    {
        using var client = fixture.A.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/distributors/{id}");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestTokens.Distributor(id));
        using var response = await client.SendAsync(request, Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
    }
}
