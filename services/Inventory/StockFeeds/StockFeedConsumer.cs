using Brokering.Contracts.Inventory;
using MassTransit;

namespace Brokering.Inventory.StockFeeds;

/// <summary>A stock update the service refuses as a whole; the message goes to <c>stock-feed_error</c> with this reason.</summary>
public sealed class StockFeedRejectedException(string message) : Exception(message);

/// <summary>
/// The raw-JSON AMQP queue <c>stock-feed</c>, for distributors who only speak AMQP: the same JSON as the
/// REST endpoint, any publisher (no MassTransit envelope). A message that cannot be applied at all
/// (malformed JSON, unknown distributor, every item invalid) is moved to <c>stock-feed_error</c> with
/// the reason in its fault headers: never lost, never retried forever. Duplicates are acknowledged.
/// </summary>
internal sealed class StockFeedConsumer(StockFeedIngestor ingestor, ILogger<StockFeedConsumer> logger) : IConsumer<StockFeedUpdate>
{
    public const string QueueName = "stock-feed";

    public async Task Consume(ConsumeContext<StockFeedUpdate> context)
    {
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
}
