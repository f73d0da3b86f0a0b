using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Brokering.Webhooks;

/// <summary>
/// Signs deliveries the Standard Webhooks way: <c>webhook-signature: v1,&lt;base64 of HMAC-SHA256(key,
/// "{webhook-id}.{webhook-timestamp}.{body}")&gt;</c>, the key being the base64 after the secret's <c>whsec_</c>. The
/// timestamp (Unix seconds of the attempt) is inside the signature, so a receiver that refuses old timestamps cannot be
/// fed a captured delivery again later; the id lets it drop a delivery it has already processed.
/// </summary>
public static class WebhookSignature
{
    public const string SecretPrefix = "whsec_";
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    /// <summary>A new random secret: 32 bytes, as <c>whsec_</c> and their base64.</summary>
    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The <c>webhook-signature</c> header value for one attempt.</summary>
    public static string Sign(string secret, string eventId, long timestamp, string body)
    {
        var key = Convert.FromBase64String(secret[SecretPrefix.Length..]);
        var signed = Encoding.UTF8.GetBytes($"{eventId}.{timestamp.ToString(CultureInfo.InvariantCulture)}.{body}");
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
    }
}
