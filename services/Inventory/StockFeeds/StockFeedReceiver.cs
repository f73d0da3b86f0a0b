using System.Globalization;
using System.Text;
using System.Text.Json;
using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using MassTransit.Serialization;
using Microsoft.Extensions.Options;

namespace Brokering.Inventory.StockFeeds;

/// <summary>A stock update the service refuses as a whole; the message goes to its queue's <c>_error</c> queue with this reason.</summary>
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

/// <summary>How often an AMQP stock update is tried again when applying it failed.</summary>
internal static class StockFeedRetries
{
    /// <summary>
    /// Only the database being briefly unreachable is worth another try, after these waits; a message that cannot be read
    /// or applied goes to its queue's <c>_error</c> at once. The shared endpoint and the distributors' queues alike.
    /// </summary>
    public static readonly TimeSpan[] Database = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(2)];
}

/// <summary>
/// An AMQP stock update as it arrived, whichever client took it off which queue: the body as published, the two
/// signature headers' text, the quorum queue's <c>x-delivery-count</c>, and the distributor whose own queue it came
/// from (null: the shared <c>stock-feed</c>).
/// </summary>
internal sealed record AmqpFeedMessage(byte[] Body, string? Signature, string? SignedAt, long DeliveryCount, string? QueueOwner)
{
    /// <summary>A header's text as the AMQP client hands it over (RabbitMQ.Client: bytes; MassTransit: a string).</summary>
    public static string? Text(object? header) => header switch
    {
        string text => text,
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        _ => null,
    };

    /// <summary>The quorum queue's <c>x-delivery-count</c> header's value; 0 when absent or unreadable.</summary>
    public static long DeliveryCountOf(object? header) => header switch
    {
        long count => count,
        int count => count,
        string text when long.TryParse(text, CultureInfo.InvariantCulture, out var count) => count,
        byte[] text when long.TryParse(Encoding.UTF8.GetString(text), CultureInfo.InvariantCulture, out var count) => count,
        _ => 0,
    };
}

/// <summary>
/// The raw-JSON AMQP feed, for distributors who only speak AMQP: the same JSON as the REST endpoint, any publisher
/// (no MassTransit envelope), signed by the distributor (<see cref="FeedSignature"/>). One path for every queue it
/// arrives on, the shared <c>stock-feed</c> (<see cref="StockFeedConsumer"/>) and each distributor's own
/// (<see cref="DistributorFeedQueues"/>), so a hardening added here holds for all of them.
/// Anyone with write access to a queue can put a message on it, so the queue proves nothing. The body arrives
/// unread; in this order, before anything parses it: a delivery over the limit, a body over the size cap, an unknown
/// distributor (its id read by a forward-only scan), a distributor other than its own queue's, a missing or stale
/// <c>Feed-Signed-At</c> and a signature that is not the distributor's are refused. Only then is the JSON parsed and
/// applied. A message that is refused or cannot be applied at all (malformed JSON, every item invalid) throws
/// <see cref="StockFeedRejectedException"/>, and its caller moves it to the queue's <c>_error</c> queue with the reason
/// in its fault headers: never applied, never lost, never retried forever. Duplicates and updates superseded by a
/// later snapshot are accepted (acknowledged).
/// </summary>
internal sealed class StockFeedReceiver(
    StockFeedIngestor ingestor, FeedKeys feedKeys, InventoryMetrics metrics, IOptions<InventoryOptions> options,
    TimeProvider clock, ILogger<StockFeedReceiver> logger)
{
    /// <summary>Applies the update, or throws <see cref="StockFeedRejectedException"/> with why it is refused.</summary>
    /// <param name="message">The delivery as it arrived.</param>
    /// <param name="db">The scope's database context, to look the distributor's key up.</param>
    /// <param name="cancellationToken">Stops the work (the delivery is then left unsettled).</param>
    public async Task ReceiveAsync(AmqpFeedMessage message, InventoryDbContext db, CancellationToken cancellationToken)
    {
        var (refusal, distributorId) = await VerifyPublisherAsync(message, db, cancellationToken);
        if (refusal is { } reason)
        {
            metrics.FeedRefused("amqp", reason);
            var explanation = reason switch
            {
                FeedRefusal.UnknownDistributor => $"Distributor '{distributorId}' is not registered.",
                FeedRefusal.NoFeedKey => $"Distributor '{distributorId}' has registered no feed key; register one with PUT /v1/distributors/{distributorId}/feed-key.",
                FeedRefusal.Unsigned => $"The message has no {FeedSignature.Header} header.",
                FeedRefusal.TooLarge => $"The body of {message.Body.Length} bytes is larger than {options.Value.FeedMaxBytes} bytes.",
                FeedRefusal.Undated => $"The message has no {FeedSignature.SignedAtHeader} header with an RFC 3339 time.",
                FeedRefusal.Stale => $"{FeedSignature.SignedAtHeader} is more than {options.Value.FeedSignatureMaxAge} from now.",
                FeedRefusal.DeliveryLimit => $"The message was delivered {options.Value.FeedDeliveryLimit} times without being settled.",
                FeedRefusal.OtherDistributorsQueue =>
                    $"It arrived on distributor '{message.QueueOwner}''s own queue; "
                    + $"distributor '{distributorId}' publishes to {DistributorFeedQueues.QueueOf(distributorId ?? string.Empty)}.",
                _ => $"The {FeedSignature.Header} is not distributor '{distributorId}''s signature over {FeedSignature.SignedAtHeader} and this body.",
            };
            logger.LogWarning("Stock update of {DistributorId} via amqp refused ({Reason}): {Explanation}", distributorId, reason, explanation);
            throw new StockFeedRejectedException($"Stock update of {distributorId} refused ({reason}): {explanation}");
        }

        var update = Parse(message.Body, distributorId!);
        var result = await ingestor.ApplyAsync(update, "amqp", cancellationToken);
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

    private async Task<(FeedRefusal? Refusal, string? DistributorId)> VerifyPublisherAsync(
        AmqpFeedMessage message, InventoryDbContext db, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (message.DeliveryCount >= settings.FeedDeliveryLimit)
        {
            return (FeedRefusal.DeliveryLimit, null);
        }

        // The transport has the bytes in memory already; what the cap spares is everything done with them from here on.
        var bytes = message.Body;
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
        if (message.QueueOwner is { } queueOwner && !string.Equals(queueOwner, distributorId, StringComparison.Ordinal))
        {
            return (FeedRefusal.OtherDistributorsQueue, distributorId);
        }

        var registered = await feedKeys.FindAsync(distributorId, db, cancellationToken);
        if (!registered.DistributorRegistered)
        {
            return (FeedRefusal.UnknownDistributor, distributorId);
        }

        if (registered.PublicKey is null)
        {
            return (FeedRefusal.NoFeedKey, distributorId);
        }

        var signature = message.Signature;
        if (string.IsNullOrWhiteSpace(signature))
        {
            return (FeedRefusal.Unsigned, distributorId);
        }

        var signedAtText = message.SignedAt;
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
}

/// <summary>Reads what the AMQP receiver needs from a body before trusting it, without parsing the rest.</summary>
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
