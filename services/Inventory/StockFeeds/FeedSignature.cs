using System.Security.Cryptography;

namespace Brokering.Inventory.StockFeeds;

/// <summary>
/// The signed fields that bind a raw AMQP stock update to its distributor and to a moment: the AMQP header
/// <c>Feed-Signed-At</c> carries when it was signed (RFC 3339, e.g. <c>2026-12-03T09:30:00Z</c>) and the header
/// <c>Feed-Signature</c> an ECDSA P-256 / SHA-256 signature, made with the distributor's private key, over the
/// <c>Feed-Signed-At</c> value, a line feed, and the exact message body (<see cref="SignedBytes"/>). Inventory
/// verifies it with the public key registered for the body's <c>distributorId</c>. Nothing secret travels or rests in
/// the broker; a replayed message is only ever its own (already applied) sequence, and only while it is fresh.
/// </summary>
public static class FeedSignature
{
    /// <summary>The AMQP header that carries the signature (base64, DER as <c>openssl dgst</c> writes it, or raw r‖s).</summary>
    public const string Header = "Feed-Signature";

    /// <summary>The AMQP header that says when the update was signed (RFC 3339); it is covered by the signature.</summary>
    public const string SignedAtHeader = "Feed-Signed-At";

    /// <summary>What a distributor signs: the <c>Feed-Signed-At</c> value, a line feed, then the body as published.</summary>
    public static byte[] SignedBytes(string signedAt, ReadOnlySpan<byte> body)
    {
        var prefix = System.Text.Encoding.UTF8.GetBytes(signedAt + "\n");
        var bytes = new byte[prefix.Length + body.Length];
        prefix.CopyTo(bytes, 0);
        body.CopyTo(bytes.AsSpan(prefix.Length));
        return bytes;
    }

    /// <summary>Reads a PEM public key; null unless it is an ECDSA key on P-256.</summary>
    public static byte[]? ImportPublicKey(string? pem)
    {
        if (string.IsNullOrWhiteSpace(pem) || pem.Length > 4096)
        {
            return null;
        }

        try
        {
            using var key = ECDsa.Create();
            key.ImportFromPem(pem);
            var parameters = key.ExportParameters(includePrivateParameters: false);
            return parameters.Curve.Oid.Value == ECCurve.NamedCurves.nistP256.Oid.Value
                ? key.ExportSubjectPublicKeyInfo()
                : null;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            return null;
        }
    }

    /// <summary>A short, stable name for a registered key (SHA-256 of its SubjectPublicKeyInfo, hex).</summary>
    public static string Fingerprint(byte[] subjectPublicKeyInfo) =>
        Convert.ToHexStringLower(SHA256.HashData(subjectPublicKeyInfo));

    /// <summary>Whether <paramref name="signature"/> (base64) is the key's signature over <paramref name="body"/>.</summary>
    public static bool Verify(byte[] subjectPublicKeyInfo, ReadOnlySpan<byte> body, string? signature)
    {
        if (string.IsNullOrWhiteSpace(signature) || signature.Length > 512)
        {
            return false;
        }

        // Standard or URL-safe base64, padded or not (JWS tools write the latter).
        var text = signature.Trim().Replace('-', '+').Replace('_', '/');
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(text.PadRight((text.Length + 3) / 4 * 4, '='));
        }
        catch (FormatException)
        {
            return false;
        }

        try
        {
            using var key = ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
            return key.VerifyData(body, bytes, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence)
                || key.VerifyData(body, bytes, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
