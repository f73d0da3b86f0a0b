using System.Globalization;
using System.Text;
using System.Text.Json;
using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.Extensions.Options;

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

    /// <summary>The body is larger than <see cref="InventoryOptions.FeedMaxBytes"/>; it was not read.</summary>
    TooLarge,

    /// <summary>The message carries no valid <c>Feed-Signed-At</c> header (RFC 3339).</summary>
    Undated,

    /// <summary><c>Feed-Signed-At</c> is further from now than <see cref="InventoryOptions.FeedSignatureMaxAge"/>: a replay, or a backlog too old to trust.</summary>
    Stale,

    /// <summary>The message was delivered <see cref="InventoryOptions.FeedDeliveryLimit"/> times without being settled.</summary>
    DeliveryLimit,

    /// <summary>The message names another distributor than the one whose own queue it arrived on.</summary>
    OtherDistributorsQueue,
}

/// <summary>
/// The raw-JSON AMQP queue <c>stock-feed</c>, for distributors who only speak AMQP: the same JSON as the
/// REST endpoint, any publisher (no MassTransit envelope), signed by the distributor (<see cref="FeedSignature"/>).
/// Anyone with write access to the queue can put a message on it, so the queue proves nothing. The body arrives
/// unread (<see cref="StockFeedDelivery"/>); in this order, before anything parses it: a delivery over the limit, a
/// body over the size cap, an unknown distributor (its id read by a forward-only scan), a missing or stale
/// <c>Feed-Signed-At</c> and a signature that is not the distributor's are refused. Only then is the JSON parsed and
/// applied. A message that is refused or cannot be applied at all (malformed JSON, every item invalid) is moved to
/// <c>stock-feed_error</c> with the reason in its fault headers: never applied, never lost, never retried forever.
/// Duplicates and updates superseded by a later snapshot are acknowledged.
/// </summary>
internal sealed class StockFeedConsumer(
    StockFeedIngestor ingestor, FeedKeys feedKeys, InventoryDbContext db, InventoryMetrics metrics, IOptions<InventoryOptions> options,
    TimeProvider clock, ILogger<StockFeedConsumer> logger) : IConsumer<StockFeedDelivery>
{
    public const string QueueName = "stock-feed";

    public async Task Consume(ConsumeContext<StockFeedDelivery> context)
    {
        var body = context.ReceiveContext.Body;
        var (refusal, distributorId) = await VerifyPublisherAsync(body, context);
        if (refusal is { } reason)
        {
            metrics.FeedRefused("amqp", reason);
            var explanation = reason switch
            {
                FeedRefusal.UnknownDistributor => $"Distributor '{distributorId}' is not registered.",
                FeedRefusal.NoFeedKey => $"Distributor '{distributorId}' has registered no feed key; register one with PUT /v1/distributors/{distributorId}/feed-key.",
                FeedRefusal.Unsigned => $"The message has no {FeedSignature.Header} header.",
                FeedRefusal.TooLarge => $"The body of {body.GetBytes().Length} bytes is larger than {options.Value.FeedMaxBytes} bytes.",
                FeedRefusal.Undated => $"The message has no {FeedSignature.SignedAtHeader} header with an RFC 3339 time.",
                FeedRefusal.Stale => $"{FeedSignature.SignedAtHeader} is more than {options.Value.FeedSignatureMaxAge} from now.",
                FeedRefusal.DeliveryLimit => $"The message was delivered {options.Value.FeedDeliveryLimit} times without being settled.",
                FeedRefusal.OtherDistributorsQueue =>
                    $"It arrived on distributor '{DistributorFeedQueues.DistributorOf(context.ReceiveContext.InputAddress)}''s own queue; "
                    + $"distributor '{distributorId}' publishes to {DistributorFeedQueues.QueueOf(distributorId ?? string.Empty)}.",
                _ => $"The {FeedSignature.Header} is not distributor '{distributorId}''s signature over {FeedSignature.SignedAtHeader} and this body.",
            };
            logger.LogWarning("Stock update of {DistributorId} via amqp refused ({Reason}): {Explanation}", distributorId, reason, explanation);
            throw new StockFeedRejectedException($"Stock update of {distributorId} refused ({reason}): {explanation}");
        }

        var update = Parse(body.GetBytes(), distributorId!);
        var result = await ingestor.ApplyAsync(update, "amqp", context.CancellationToken);
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
            case StockUpdateOutcome.Superseded:
                logger.LogInformation(
                    "Stock update {DistributorId}#{Sequence} is superseded by a later snapshot; acknowledged", result.DistributorId, result.Sequence);
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

    private async Task<(FeedRefusal? Refusal, string? DistributorId)> VerifyPublisherAsync(MessageBody body, ConsumeContext context)
    {
        var settings = options.Value;
        if (DeliveryCount(context.ReceiveContext.TransportHeaders) >= settings.FeedDeliveryLimit)
        {
            return (FeedRefusal.DeliveryLimit, null);
        }

        // The transport has the bytes in memory already; what the cap spares is everything done with them from here on.
        var bytes = body.GetBytes();
        if (bytes.Length > settings.FeedMaxBytes)
        {
            return (FeedRefusal.TooLarge, null);
        }

        var distributorId = FeedBody.DistributorIdOf(bytes)?.Trim();
        if (string.IsNullOrEmpty(distributorId) || distributorId.Length > 64)
        {
            return (FeedRefusal.UnknownDistributor, distributorId);
        }

        // A distributor's own queue is bounded for it alone: whatever else arrives there, even signed, is not its feed.
        if (DistributorFeedQueues.DistributorOf(context.ReceiveContext.InputAddress) is { } queueOwner
            && !string.Equals(queueOwner, distributorId, StringComparison.Ordinal))
        {
            return (FeedRefusal.OtherDistributorsQueue, distributorId);
        }

        var registered = await feedKeys.FindAsync(distributorId, db, context.CancellationToken);
        if (!registered.DistributorRegistered)
        {
            return (FeedRefusal.UnknownDistributor, distributorId);
        }

        if (registered.PublicKey is null)
        {
            return (FeedRefusal.NoFeedKey, distributorId);
        }

        var signature = context.Headers.Get<string>(FeedSignature.Header);
        if (string.IsNullOrWhiteSpace(signature))
        {
            return (FeedRefusal.Unsigned, distributorId);
        }

        var signedAtText = context.Headers.Get<string>(FeedSignature.SignedAtHeader);
        if (string.IsNullOrWhiteSpace(signedAtText) || signedAtText.Length > 64
            || !DateTimeOffset.TryParse(signedAtText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signedAt))
        {
            return (FeedRefusal.Undated, distributorId);
        }

        // The signature covers the header's text and the bytes as published, not a re-serialisation of what they parse to.
        if (!FeedSignature.Verify(registered.PublicKey, FeedSignature.SignedBytes(signedAtText, bytes), signature))
        {
            return (FeedRefusal.BadSignature, distributorId);
        }

        // Checked after the signature, so a stale verdict is about the distributor's own message, not a forged header.
        return (clock.GetUtcNow() - signedAt).Duration() > settings.FeedSignatureMaxAge ? (FeedRefusal.Stale, distributorId) : (null, distributorId);
    }

    private static StockFeedUpdate Parse(byte[] body, string verifiedDistributorId)
    {
        StockFeedUpdate? update;
        try
        {
            update = JsonSerializer.Deserialize<StockFeedUpdate>(body, SystemTextJsonMessageSerializer.Options);
        }
        catch (JsonException e)
        {
            throw new StockFeedRejectedException($"Stock update of {verifiedDistributorId} is not valid JSON: {e.Message}");
        }

        // The key was chosen by the first distributorId in the body; a second one, which a parser may prefer, must agree.
        if (update is null || !string.Equals(update.DistributorId?.Trim(), verifiedDistributorId, StringComparison.Ordinal))
        {
            throw new StockFeedRejectedException($"Stock update of {verifiedDistributorId} names another distributor in its body than the one that signed it.");
        }

        return update;
    }

    private static long DeliveryCount(Headers headers) =>
        headers.TryGetHeader("x-delivery-count", out var value)
            ? value switch
            {
                long count => count,
                int count => count,
                string text when long.TryParse(text, CultureInfo.InvariantCulture, out var count) => count,
                byte[] text when long.TryParse(Encoding.UTF8.GetString(text), CultureInfo.InvariantCulture, out var count) => count,
                _ => 0,
            }
            : 0;
}

/// <summary>Reads what the AMQP consumer needs from a body before trusting it, without parsing the rest.</summary>
internal static class FeedBody
{
    /// <summary>The first top-level <c>distributorId</c> string of a JSON object (property names case-insensitive), or null.</summary>
    public static string? DistributorIdOf(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64, CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isDistributor = string.Equals(reader.GetString(), "distributorId", StringComparison.OrdinalIgnoreCase);
                if (!reader.Read())
                {
                    return null;
                }

                if (isDistributor)
                {
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }

                // Forward-only: a nested value is skipped token by token, nothing of it is kept.
                reader.Skip();
            }

            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
