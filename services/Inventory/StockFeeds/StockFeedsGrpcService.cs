using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Inventory;
using Brokering.ServiceDefaults.Security;
using Grpc.Core;

namespace Brokering.Inventory.StockFeeds;

/// <summary>gRPC <c>StockFeeds/Publish</c>: a client stream of updates, each applied as it arrives.</summary>
internal sealed class StockFeedsGrpcService(StockFeedIngestor ingestor) : Brokering.Contracts.Grpc.Inventory.StockFeeds.StockFeedsBase
{
    [Microsoft.AspNetCore.RateLimiting.EnableRateLimiting(RateLimits.StreamPolicy)]
    public override async Task<PublishSummary> Publish(IAsyncStreamReader<StockUpdate> requestStream, ServerCallContext context)
    {
        var summary = new PublishSummary();
        var caller = context.GetHttpContext().User;
        await foreach (var update in requestStream.ReadAllAsync(context.CancellationToken))
        {
            if (!DistributorIdentity.MayPublish(caller, update.DistributorId))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied,
                    $"This token may not publish the feed of distributor '{update.DistributorId}'; updates before this one were applied."));
            }

            var malformed = update.Items.Select((item, index) => (item, index)).FirstOrDefault(pair => pair.item.UnitPrice is { IsWellFormed: false });
            if (malformed.item is not null)
            {
                // Read as is, nanos outside (-1e9, 1e9) or of the other sign would silently be another price.
                throw new RpcException(new Status(StatusCode.InvalidArgument,
                    $"items[{malformed.index}].unit_price.nanos: must be between -999999999 and 999999999 with the sign of units; updates before this one were applied."));
            }

            var result = await ingestor.ApplyAsync(ToFeedUpdate(update), "grpc", context.CancellationToken);
            summary.Results.Add(ToProto(result));
        }

        return summary;
    }

    internal static StockFeedUpdate ToFeedUpdate(StockUpdate update) => new(
        update.DistributorId,
        update.Sequence,
        update.Kind switch
        {
            UpdateKind.Snapshot => StockUpdateKind.Snapshot,
            UpdateKind.Delta => StockUpdateKind.Delta,
            _ => null,
        },
        // An empty snapshot is taken as meant only with no_items: to the wire, a list never filled is an empty one.
        update is { Kind: UpdateKind.Snapshot, Items.Count: 0, NoItems: false } ? null : update.Items.Select(item => new StockFeedItem(
            item.Sku,
            item.Warehouse,
            item.QuantityCase == StockItem.QuantityOneofCase.QuantityOnHand ? item.QuantityOnHand : null,
            item.QuantityCase == StockItem.QuantityOneofCase.QuantityChange ? item.QuantityChange : null,
            item.UnitPrice?.ToDecimal(),
            string.IsNullOrEmpty(item.Currency) ? null : item.Currency,
            item.LeadTimeDays,
            item.MinimumOrderQuantity == 0 ? null : item.MinimumOrderQuantity)).ToList());

    internal static UpdateResult ToProto(StockUpdateResult result)
    {
        var proto = new UpdateResult
        {
            DistributorId = result.DistributorId ?? string.Empty,
            Sequence = result.Sequence,
            Outcome = result.Outcome switch
            {
                StockUpdateOutcome.Applied => UpdateOutcome.Applied,
                StockUpdateOutcome.Duplicate => UpdateOutcome.Duplicate,
                StockUpdateOutcome.Superseded => UpdateOutcome.Superseded,
                _ => UpdateOutcome.Rejected,
            },
            ItemsApplied = result.ItemsApplied,
            GapDetected = result.GapDetected,
            GapHealed = result.GapHealed,
            PreviousSequence = result.PreviousSequence,
            Error = result.Error ?? string.Empty,
        };
        proto.ItemErrors.AddRange(result.ItemErrors.Select(e => new ItemError { Index = e.Index, Sku = e.Sku ?? string.Empty, Error = e.Error, Field = e.Field }));
        proto.Missing.AddRange(result.Missing.Select(range => new MissingSequences { From = range.From, To = range.To }));
        return proto;
    }
}
