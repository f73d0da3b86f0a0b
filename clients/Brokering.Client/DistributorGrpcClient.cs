using Grpc.Core;
using Wire = Brokering.Contracts.Grpc.Inventory;

namespace Brokering.Client;

/// <summary>
/// A distributor's client for inventory's gRPC stock feed (<c>brokering.inventory.v1.StockFeeds</c>, port 5201 by
/// default): many updates on one stream, one result each, for an ERP that pushes its whole stock list at once. The same
/// updates, results, tokens, options and retry rules as <see cref="DistributorClient"/> over REST; holds, orders and
/// webhooks are read over REST.
/// </summary>
/// <remarks>
/// Every update carries its sequence, so a stream that broke (UNAVAILABLE, a deadline, RESOURCE_EXHAUSTED) is sent
/// again whole: the updates already applied answer <see cref="StockUpdateOutcome.Duplicate"/> the second time and are
/// applied once. An update the service rejects as a whole (a bad kind, no items) is answered
/// <see cref="StockUpdateOutcome.Rejected"/> with its <see cref="StockUpdateResult.Error"/>; a malformed value (a price
/// the wire cannot carry) fails the call before anything is sent.
/// </remarks>
public sealed class DistributorGrpcClient
{
    private readonly Wire.StockFeeds.StockFeedsClient feeds;
    private readonly GrpcConnection grpc;
    private readonly string distributorId;

    /// <summary>A client for <paramref name="distributorId"/> over <paramref name="channel"/>, e.g. <c>GrpcChannel.ForAddress("https://inventory.example.com:5201")</c>.</summary>
    /// <param name="channel">The channel to inventory's gRPC endpoint; the caller owns (and disposes) it.</param>
    /// <param name="distributorId">The distributor the updates are for; the token must be its own.</param>
    /// <param name="tokens">Called before every attempt for the bearer token.</param>
    /// <param name="options">Retries and the per-attempt deadline; defaults when null.</param>
    public DistributorGrpcClient(ChannelBase channel, string distributorId, TokenSource tokens, BrokeringClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentException.ThrowIfNullOrWhiteSpace(distributorId);
        ArgumentNullException.ThrowIfNull(tokens);
        feeds = new Wire.StockFeeds.StockFeedsClient(channel.CreateCallInvoker());
        grpc = new GrpcConnection(tokens, options ?? new BrokeringClientOptions());
        this.distributorId = distributorId;
    }

    /// <summary>Publishes one update; see <see cref="PublishAsync(IReadOnlyList{StockUpdate}, CancellationToken)"/>.</summary>
    /// <param name="update">The update.</param>
    /// <param name="cancellationToken">Stops waiting (the update may have been applied all the same).</param>
    /// <returns>Its result.</returns>
    public async Task<StockUpdateResult> PublishAsync(StockUpdate update, CancellationToken cancellationToken = default) =>
        (await PublishAsync([update], cancellationToken))[0];

    /// <summary>Publishes <paramref name="updates"/> on one stream, in order.</summary>
    /// <param name="updates">The updates, one or more, in sequence order.</param>
    /// <param name="cancellationToken">Stops waiting (updates may have been applied all the same).</param>
    /// <returns>One result per update, in order.</returns>
    /// <exception cref="BrokeringRpcException">The call refused as a whole: a token not the distributor's, a malformed update.</exception>
    /// <exception cref="ArgumentException">A price with more than nine decimal places, which the wire cannot carry exactly.</exception>
    public async Task<IReadOnlyList<StockUpdateResult>> PublishAsync(IReadOnlyList<StockUpdate> updates, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0)
        {
            throw new ArgumentException("At least one update.", nameof(updates));
        }

        // Converted before the first attempt: a value the wire cannot carry fails here, with nothing sent.
        var wire = updates.Select((update, i) => ToWire(update, $"updates[{i}]")).ToList();
        return await grpc.RetryAsync(async callOptions =>
        {
            using var call = feeds.Publish(callOptions);
            foreach (var update in wire)
            {
                await call.RequestStream.WriteAsync(update, cancellationToken);
            }

            await call.RequestStream.CompleteAsync();
            var summary = await call.ResponseAsync;
            return (IReadOnlyList<StockUpdateResult>)[.. summary.Results.Select(ToResult)];
        }, RetrySafety.Idempotent, cancellationToken);
    }

    private Wire.StockUpdate ToWire(StockUpdate update, string path)
    {
        var wire = new Wire.StockUpdate
        {
            DistributorId = distributorId,
            Sequence = update.Sequence,
            Kind = update.Kind == StockUpdateKind.Snapshot ? Wire.UpdateKind.Snapshot : Wire.UpdateKind.Delta,
            // The list here is never missing, so an empty one is meant: the service refuses an empty snapshot without it.
            NoItems = update.Items.Count == 0,
        };
        for (var i = 0; i < update.Items.Count; i++)
        {
            var level = update.Items[i];
            var item = new Wire.StockItem
            {
                Sku = level.Sku,
                Warehouse = level.Warehouse,
                Currency = level.Currency ?? string.Empty,
                LeadTimeDays = level.LeadTimeDays ?? 0,
                MinimumOrderQuantity = level.MinimumOrderQuantity ?? 0,
            };
            if (level.QuantityOnHand is { } onHand)
            {
                item.QuantityOnHand = onHand;
            }
            else if (level.QuantityChange is { } change)
            {
                item.QuantityChange = change;
            }

            if (level.UnitPrice is { } price)
            {
                item.UnitPrice = WireDecimals.ToWire(price, $"{path}.items[{i}].unitPrice");
            }

            wire.Items.Add(item);
        }

        return wire;
    }

    private static StockUpdateResult ToResult(Wire.UpdateResult result) => new(
        result.DistributorId,
        result.Sequence,
        result.Outcome switch
        {
            Wire.UpdateOutcome.Applied => StockUpdateOutcome.Applied,
            Wire.UpdateOutcome.Duplicate => StockUpdateOutcome.Duplicate,
            Wire.UpdateOutcome.Superseded => StockUpdateOutcome.Superseded,
            _ => StockUpdateOutcome.Rejected,
        },
        result.ItemsApplied,
        result.GapDetected,
        result.GapHealed,
        result.PreviousSequence,
        [.. result.ItemErrors.Select(e => new StockItemError(e.Index, e.Sku, e.Field, e.Error))],
        [.. result.Missing.Select(m => new MissingSequences(m.From, m.To))],
        result.Error.Length > 0 ? result.Error : null);
}
