using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Grpc.Core;

namespace Brokering.Inventory.Tests;

/// <summary>Who may call what on inventory, and that a distributor publishes only its own feed.</summary>
public sealed class AuthorizationTests(InventoryFixture fixture) : IClassFixture<InventoryFixture>
{
    private static readonly string[] Anyone = [.. BrokeringRoles.All];
    private static readonly string[] Platform = [BrokeringRoles.Ops, BrokeringRoles.Service];

    internal static readonly Dictionary<string, string[]?> Expected = AuthorizationMatrix.WithServiceDefaults(new Dictionary<string, string[]?>
    {
        ["GET /v1/distributors/"] = Anyone,
        ["GET /v1/distributors/{id}"] = Anyone,
        ["POST /v1/distributors/"] = [BrokeringRoles.Ops],
        ["POST /v1/distributors/{id}/stock-feed"] = [BrokeringRoles.Distributor],
        ["PUT /v1/distributors/{id}/feed-key"] = [BrokeringRoles.Ops, BrokeringRoles.Distributor],
        ["POST /brokering.inventory.v1.StockFeeds/Publish"] = [BrokeringRoles.Distributor],
        ["GET /v1/skus/{sku}/offers"] = Platform,
        ["GET /v1/reservations/{reservationId:guid}/holds"] = Platform,
        ["GET /v1/distributor/holds"] = [BrokeringRoles.Distributor],
        ["GET /v1/distributor/orders"] = [BrokeringRoles.Distributor],
        ["POST /v1/distributor/webhooks/subscriptions/"] = [BrokeringRoles.Distributor],
        ["GET /v1/distributor/webhooks/subscriptions/"] = [BrokeringRoles.Distributor],
        ["GET /v1/distributor/webhooks/subscriptions/{id:guid}"] = [BrokeringRoles.Distributor],
        ["DELETE /v1/distributor/webhooks/subscriptions/{id:guid}"] = [BrokeringRoles.Distributor],
        ["POST /v1/distributor/webhooks/subscriptions/{id:guid}/pause"] = [BrokeringRoles.Distributor],
        ["POST /v1/distributor/webhooks/subscriptions/{id:guid}/resume"] = [BrokeringRoles.Distributor],
        ["GET /v1/distributor/webhooks/subscriptions/{id:guid}/deliveries"] = [BrokeringRoles.Distributor],
        ["POST /v1/distributor/webhooks/subscriptions/{id:guid}/deliveries/{deliveryId:guid}/replay"] = [BrokeringRoles.Distributor],
        ["POST /brokering.inventory.v1.HoldsLedger/GetOffers"] = [BrokeringRoles.Service],
        ["POST /brokering.inventory.v1.HoldsLedger/PlaceHolds"] = [BrokeringRoles.Service],
        ["POST /brokering.inventory.v1.HoldsLedger/ReleaseHolds"] = [BrokeringRoles.Service],
        ["POST /brokering.inventory.v1.HoldsLedger/CommitHolds"] = [BrokeringRoles.Service],
        ["POST /brokering.inventory.v1.HoldsLedger/RenewHolds"] = [BrokeringRoles.Service],
        ["POST /brokering.inventory.v1.HoldsLedger/GetFeedFreshness"] = [BrokeringRoles.Service],
    });

    [Fact]
    public async Task Every_endpoint_admits_exactly_the_roles_it_is_meant_for()
    {
        using var anonymous = fixture.A.CreateClient();
        var failures = await AuthorizationMatrix.VerifyAsync(anonymous, fixture.A.Services, Expected, TestContext.Current.CancellationToken);
        failures.ShouldBeEmpty(string.Join("\n", failures));
    }

    [Fact]
    public async Task A_distributor_cannot_post_another_distributors_feed()
    {
        using var client = fixture.A.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/distributors/avnet/stock-feed")
        {
            Content = JsonContent.Create(new { distributorId = "avnet", sequence = 999_999, kind = "Snapshot", items = Array.Empty<object>() }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Distributor("arrow"));

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }

    [Fact]
    public async Task A_distributor_streaming_another_distributors_update_is_refused()
    {
        using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor("arrow"), cancellationToken: TestContext.Current.CancellationToken);
        await call.RequestStream.WriteAsync(new StockUpdate { DistributorId = "wpg", Sequence = 999_999, Kind = UpdateKind.Snapshot }, TestContext.Current.CancellationToken);
        await call.RequestStream.CompleteAsync();

        var refusal = await Should.ThrowAsync<RpcException>(async () => await call);
        refusal.StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }
}
