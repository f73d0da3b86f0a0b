using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Brokering.Client.Webhooks;

/// <summary>What a verifier made of a delivery.</summary>
public enum WebhookVerification
{
    /// <summary>Signed with the secret, within the tolerance window: process it (once per <c>webhook-id</c>).</summary>
    Valid,

    /// <summary>A <c>webhook-id</c>, <c>webhook-timestamp</c> or <c>webhook-signature</c> header is missing or unreadable.</summary>
    MissingHeaders,

    /// <summary>Its timestamp is further from now than the tolerance: possibly a captured delivery played again.</summary>
    StaleTimestamp,

    /// <summary>No signature matches: another secret, or the id, timestamp or body was changed.</summary>
    BadSignature,
}

/// <summary>
/// Checks that a webhook delivery came from Brokering, unchanged and recently: the Standard Webhooks scheme the service
/// signs with, <c>v1,</c> and the base64 of HMAC-SHA256 over <c>{webhook-id}.{webhook-timestamp}.{body}</c>, keyed by
/// the base64 after the subscription secret's <c>whsec_</c>.
/// </summary>
public sealed class WebhookSignatureVerifier
{
    /// <summary>The delivery's event id header: the same on every attempt, to drop a delivery already processed.</summary>
    public const string IdHeader = "webhook-id";

    /// <summary>The attempt's time header, Unix seconds.</summary>
    public const string TimestampHeader = "webhook-timestamp";

    /// <summary>The signatures header, space-separated <c>v1,…</c> values.</summary>
    public const string SignatureHeader = "webhook-signature";

    private const string SecretPrefix = "whsec_";

    private readonly byte[] key;
    private readonly TimeSpan tolerance;
    private readonly TimeProvider time;

    /// <summary>A verifier for one subscription's secret.</summary>
    /// <param name="secret">The <c>whsec_…</c> secret shown when the subscription was made.</param>
    /// <param name="tolerance">How far a timestamp may be from now; five minutes when null.</param>
    /// <param name="time">The clock; the system's when null.</param>
    public WebhookSignatureVerifier(string secret, TimeSpan? tolerance = null, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(secret);
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"A webhook secret starts with {SecretPrefix}.", nameof(secret));
        }

        key = Convert.FromBase64String(secret[SecretPrefix.Length..]);
        this.tolerance = tolerance ?? TimeSpan.FromMinutes(5);
        this.time = time ?? TimeProvider.System;
    }

    /// <summary>Verifies a delivery from its three headers and its raw body.</summary>
    /// <param name="id">The <c>webhook-id</c> header.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> header.</param>
    /// <param name="signatures">The <c>webhook-signature</c> header.</param>
    /// <param name="body">The body exactly as received, before any JSON parsing.</param>
    /// <returns><see cref="WebhookVerification.Valid"/>, or why not.</returns>
    public WebhookVerification Verify(string? id, string? timestamp, string? signatures, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(signatures)
            || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return WebhookVerification.MissingHeaders;
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        if (Math.Abs(now - seconds) > tolerance.TotalSeconds)
        {
            return WebhookVerification.StaleTimestamp;
        }

        var prefix = Encoding.UTF8.GetBytes($"{id}.{seconds.ToString(CultureInfo.InvariantCulture)}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        var expected = HMACSHA256.HashData(key, signed);

        foreach (var signature in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            // During a secret rotation the header carries one signature per secret; any match will do.
            if (!signature.StartsWith("v1,", StringComparison.Ordinal))
            {
                continue;
            }

            var given = new byte[32];
            if (Convert.TryFromBase64String(signature[3..], given, out var written) && written == given.Length
                && CryptographicOperations.FixedTimeEquals(given, expected))
            {
                return WebhookVerification.Valid;
            }
        }

        return WebhookVerification.BadSignature;
    }

    /// <summary>Verifies a delivery whose body has been read as UTF-8 text.</summary>
    /// <param name="id">The <c>webhook-id</c> header.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> header.</param>
    /// <param name="signatures">The <c>webhook-signature</c> header.</param>
    /// <param name="body">The body as received.</param>
    /// <returns><see cref="WebhookVerification.Valid"/>, or why not.</returns>
    public WebhookVerification Verify(string? id, string? timestamp, string? signatures, string body) =>
        Verify(id, timestamp, signatures, Encoding.UTF8.GetBytes(body));

    /// <summary>Verifies a delivery and reads its event, or throws.</summary>
    /// <param name="id">The <c>webhook-id</c> header.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> header.</param>
    /// <param name="signatures">The <c>webhook-signature</c> header.</param>
    /// <param name="body">The body as received.</param>
    /// <returns>The event.</returns>
    /// <exception cref="WebhookVerificationException">The delivery did not verify.</exception>
    public WebhookEvent ReadVerified(string? id, string? timestamp, string? signatures, string body)
    {
        var verdict = Verify(id, timestamp, signatures, body);
        if (verdict != WebhookVerification.Valid)
        {
            throw new WebhookVerificationException(verdict);
        }

        return JsonSerializer.Deserialize<WebhookEvent>(body, ApiConnection.Json)
            ?? throw new WebhookVerificationException(WebhookVerification.BadSignature);
    }
}

/// <summary>A delivery that did not verify: answer it 401 and do not process it.</summary>
public sealed class WebhookVerificationException : Exception
{
    /// <summary>Creates the exception for a verdict other than <see cref="WebhookVerification.Valid"/>.</summary>
    /// <param name="verdict">Why the delivery was refused.</param>
    public WebhookVerificationException(WebhookVerification verdict)
        : base($"The webhook delivery did not verify: {verdict}.") => Verdict = verdict;

    /// <summary>Why the delivery was refused.</summary>
    public WebhookVerification Verdict { get; }
}

/// <summary>The body of a <c>reservation.status_changed</c> delivery.</summary>
/// <param name="Type">The event type, <c>reservation.status_changed</c>.</param>
/// <param name="Timestamp">When the change happened.</param>
/// <param name="Data">The change, as the change feed shows it (its cursor included).</param>
public sealed record WebhookEvent(string Type, DateTimeOffset Timestamp, ReservationChange Data);
