using Brokering.Contracts.Grpc.Inventory;
using Grpc.Core;

namespace Brokering.Inventory.Tests;

/// <summary>The protobuf receive limit from the service defaults (4 MB per message) holds on inventory's gRPC, unary and streaming.</summary>
public sealed class GrpcMessageSizeTests(InventoryFixture fixture)
{
    private static readonly string FiveMegabytes = new('x', 5 * 1024 * 1024);

    [Fact]
    public async Task An_oversized_unary_message_is_resource_exhausted_and_the_service_keeps_serving()
    {
        var refusal = await Should.ThrowAsync<RpcException>(async () =>
            await fixture.A.Ledger.GetOffersAsync(new GetOffersRequest { Sku = FiveMegabytes, Quantity = 1 }, cancellationToken: TestContext.Current.CancellationToken));

        refusal.StatusCode.ShouldBe(StatusCode.ResourceExhausted);
        refusal.Status.Detail.ShouldNotBeNullOrWhiteSpace();
        var offers = await fixture.A.Ledger.GetOffersAsync(new GetOffersRequest { Sku = "NVIDIA-H20", Quantity = 1 }, cancellationToken: TestContext.Current.CancellationToken);
        offers.ShouldNotBeNull();
        using var live = await fixture.A.Http.GetAsync("/health/live", TestContext.Current.CancellationToken);
        live.IsSuccessStatusCode.ShouldBeTrue();
    }

    [Fact]
    public async Task An_oversized_message_in_a_stock_feed_stream_is_resource_exhausted_and_applies_nothing()
    {
        var distributor = await fixture.NewDistributorAsync();
        var update = new StockUpdate { DistributorId = distributor, Sequence = 1, Kind = UpdateKind.Snapshot };
        update.Items.Add(new StockItem { Sku = FiveMegabytes, Warehouse = "SG1", QuantityOnHand = 1 });

        using var call = fixture.A.Feeds.Publish(InventoryHost.AsDistributor(distributor), cancellationToken: TestContext.Current.CancellationToken);
        var refusal = await Should.ThrowAsync<RpcException>(async () =>
        {
            try
            {
                await call.RequestStream.WriteAsync(update, TestContext.Current.CancellationToken);
                await call.RequestStream.CompleteAsync();
            }
            catch (RpcException)
            {
                // The service may end the call while the message is still being written, and the write then sees only
                // that the stream is gone (Cancelled); the service's verdict is the call's status, awaited below.
            }

            await call;
        });

        refusal.StatusCode.ShouldBe(StatusCode.ResourceExhausted);
        (await fixture.LevelAsync(distributor, "NVIDIA-H20", "SG1")).OnHand.ShouldBe(0);
        var after = await fixture.SnapshotAsync(distributor, 1, new Stock("NVIDIA-H20", "SG1", 3));
        after.ItemsApplied.ShouldBe(1);
    }
}
