using System.Security.Cryptography;

namespace Brokering.Inventory.StockFeeds;

/// <summary>
/// The signed field that binds a raw AMQP stock update to its distributor: the AMQP header
/// <c>Feed-Signature</c> carries an ECDSA P-256 / SHA-256 signature over the exact message body, made with
/// the distributor's private key; inventory verifies it with the public key registered for the body's
/// <c>distributorId</c>. Nothing secret travels or rests in the broker, and a replayed message is only ever
/// its own (already applied) sequence.
/// </summary>
public static class FeedSignature
{
    /// <summary>The AMQP header that carries the signature (base64, DER as <c>openssl dgst</c> writes it, or raw r‖s).</summary>
    public const string Header = "Feed-Signature";

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
