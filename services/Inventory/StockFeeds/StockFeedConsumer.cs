using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using MassTransit;

namespace Brokering.Inventory.StockFeeds;

/// <summary>A stock update the service refuses as a whole; the message goes to <c>stock-feed_error</c> with this reason.</summary>
public sealed class StockFeedRejectedException(string message) : Exception(message);

/// <summary>Why an AMQP stock update was refused before it was looked at (the <c>reason</c> tag of <c>inventory.feed.refused</c>).</summary>
public enum FeedRefusal
{
    /// <summary>The message names no distributor, or one that is not registered.</summary>
    UnknownDistributor,

    /// <summary>The distributor has registered no feed key, so nothing on the queue can be its.</summary>
    NoFeedKey,

    /// <summary>The message carries no <c>Feed-Signature</c> header.</summary>
    Unsigned,

    /// <summary>The signature is not the distributor's key's over this body: another party, or a changed body.</summary>
    BadSignature,
}

/// <summary>
/// The raw-JSON AMQP queue <c>stock-feed</c>, for distributors who only speak AMQP: the same JSON as the
/// REST endpoint, any publisher (no MassTransit envelope), signed by the distributor (<see cref="FeedSignature"/>).
/// Anyone with write access to the queue can put a message on it, so the queue proves nothing: an update is
/// applied only when its body is signed with the key registered for the distributor it names. A message that
/// is refused or cannot be applied at all (bad or missing signature, malformed JSON, unknown distributor, every
/// item invalid) is moved to <c>stock-feed_error</c> with the reason in its fault headers: never applied, never
/// lost, never retried forever. Duplicates are acknowledged.
/// </summary>
internal sealed class StockFeedConsumer(
    StockFeedIngestor ingestor, FeedKeys feedKeys, InventoryDbContext db, InventoryMetrics metrics, ILogger<StockFeedConsumer> logger) : IConsumer<StockFeedUpdate>
{
    public const string QueueName = "stock-feed";

    public async Task Consume(ConsumeContext<StockFeedUpdate> context)
    {
        var distributorId = context.Message.DistributorId?.Trim();
        var refusal = await VerifyPublisherAsync(distributorId, context);
        if (refusal is { } reason)
        {
            metrics.FeedRefused("amqp", reason);
            var explanation = reason switch
            {
                FeedRefusal.UnknownDistributor => $"Distributor '{distributorId}' is not registered.",
                FeedRefusal.NoFeedKey => $"Distributor '{distributorId}' has registered no feed key; register one with PUT /v1/distributors/{distributorId}/feed-key.",
                FeedRefusal.Unsigned => $"The message has no {FeedSignature.Header} header.",
                _ => $"The {FeedSignature.Header} is not distributor '{distributorId}''s signature over this body.",
            };
            logger.LogWarning(
                "Stock update {DistributorId}#{Sequence} via amqp refused ({Reason}): {Explanation}",
                distributorId, context.Message.Sequence, reason, explanation);
            throw new StockFeedRejectedException($"Stock update {distributorId}#{context.Message.Sequence} refused ({reason}): {explanation}");
        }

        var result = await ingestor.ApplyAsync(context.Message, "amqp", context.CancellationToken);
        switch (result.Outcome)
        {
            case StockUpdateOutcome.Rejected:
                var details = result.ItemErrors.Count == 0
                    ? string.Empty
                    : " Items: " + string.Join("; ", result.ItemErrors.Select(e => $"{e.Field}: {e.Error}"));
                throw new StockFeedRejectedException($"Stock update {result.DistributorId}#{result.Sequence} rejected: {result.Error}{details}");
            case StockUpdateOutcome.Duplicate:
                logger.LogInformation(
                    "Stock update {DistributorId}#{Sequence} is a duplicate (last applied {Previous}); acknowledged",
                    result.DistributorId, result.Sequence, result.PreviousSequence);
                break;
            default:
                if (result.ItemErrors.Count > 0)
                {
                    logger.LogWarning(
                        "Stock update {DistributorId}#{Sequence} applied {Applied} item(s) and rejected {Rejected}: {Errors}",
                        result.DistributorId, result.Sequence, result.ItemsApplied, result.ItemErrors.Count,
                        string.Join("; ", result.ItemErrors.Select(e => $"{e.Field}: {e.Error}")));
                }

                break;
        }
    }

    private async Task<FeedRefusal?> VerifyPublisherAsync(string? distributorId, ConsumeContext context)
    {
        if (string.IsNullOrEmpty(distributorId) || distributorId.Length > 64)
        {
            return FeedRefusal.UnknownDistributor;
        }

        var registered = await feedKeys.FindAsync(distributorId, db, context.CancellationToken);
        if (!registered.DistributorRegistered)
        {
            return FeedRefusal.UnknownDistributor;
        }

        if (registered.PublicKey is null)
        {
            return FeedRefusal.NoFeedKey;
        }

        var signature = context.Headers.Get<string>(FeedSignature.Header);
        if (string.IsNullOrWhiteSpace(signature))
        {
            return FeedRefusal.Unsigned;
        }

        // The signature covers the bytes as published, not a re-serialisation of what they parsed to.
        return FeedSignature.Verify(registered.PublicKey, context.ReceiveContext.GetBody(), signature) ? null : FeedRefusal.BadSignature;
    }
}
