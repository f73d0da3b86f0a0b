using Grpc.Core;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Requests the fuzzer found mishandled, pinned down: bytes that are not the protobuf a method expects are
/// the caller's mistake, INVALID_ARGUMENT with the parser's reason (not UNKNOWN, which Grpc.AspNetCore answers
/// by default), unary and in a stream; a SKU with a NUL is INVALID_ARGUMENT, not a failed database query.
/// </summary>
public sealed class HostileGrpcRequestTests(InventoryFixture fixture)
{
    // Field 1 declared as 1,000 bytes long with three bytes following it.
    private static readonly byte[] Truncated = [0x0A, 0xE8, 0x07, 0x41, 0x42, 0x43];

    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(bytes => bytes, bytes => bytes);

    [Fact]
    public async Task A_unary_request_that_is_not_valid_protobuf_is_invalid_argument_and_the_service_keeps_serving()
    {
        var getOffers = new Method<byte[], byte[]>(MethodType.Unary, "brokering.inventory.v1.HoldsLedger", "GetOffers", Raw, Raw);

        var refusal = await Should.ThrowAsync<RpcException>(async () =>
            await fixture.A.Channel.CreateCallInvoker().AsyncUnaryCall(getOffers, null, new CallOptions(cancellationToken: TestContext.Current.CancellationToken), Truncated));

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("GetOffersRequest");
        var offers = await fixture.A.Ledger.GetOffersAsync(new() { Sku = "NVIDIA-H20", Quantity = 1 }, cancellationToken: TestContext.Current.CancellationToken);
        offers.ShouldNotBeNull();
    }

    [Fact]
    public async Task A_stock_feed_message_that_is_not_valid_protobuf_is_invalid_argument_and_applies_nothing()
    {
        var distributor = await fixture.NewDistributorAsync();
        var publish = new Method<byte[], byte[]>(MethodType.ClientStreaming, "brokering.inventory.v1.StockFeeds", "Publish", Raw, Raw);

        using var call = fixture.A.FeedChannel.CreateCallInvoker().AsyncClientStreamingCall(
            publish, null, new CallOptions(InventoryHost.AsDistributor(distributor), cancellationToken: TestContext.Current.CancellationToken));
        var refusal = await Should.ThrowAsync<RpcException>(async () =>
        {
            await call.RequestStream.WriteAsync(Truncated, TestContext.Current.CancellationToken);
            await call.RequestStream.CompleteAsync();
            await call;
        });

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("StockUpdate");
        (await fixture.LevelAsync(distributor, "NVIDIA-H20", "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task Offers_for_a_sku_with_a_nul_character_are_invalid_argument_not_a_database_failure()
    {
        var refusal = await Should.ThrowAsync<RpcException>(async () =>
            await fixture.A.Ledger.GetOffersAsync(new() { Sku = "NVIDIA\u0000H20", Quantity = 1 }, cancellationToken: TestContext.Current.CancellationToken));

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("sku");
    }
}
