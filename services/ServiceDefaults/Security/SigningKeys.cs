using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// Asymmetric token keys: ES256 (ECDSA P-256) private keys for what a service signs itself (its own service
/// tokens; in Development, the development issuer's tokens), and public keys (PEM or a JWKS document) for what
/// it only verifies. A private key where a public one is expected is refused, so a service never ends up able
/// to mint the tokens it accepts from someone else.
/// </summary>
public static class SigningKeys
{
    /// <summary>The only algorithm Brokering signs with.</summary>
    public const string Algorithm = SecurityAlgorithms.EcdsaSha256;

    /// <summary>The seed development keys are derived from: <c>Authentication:DevelopmentKeySeed</c>.</summary>
    public const string DevelopmentSeedSetting = "Authentication:DevelopmentKeySeed";

    /// <summary>A fresh ES256 private key, as PKCS#8 PEM.</summary>
    public static string NewPrivateKeyPem()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return key.ExportPkcs8PrivateKeyPem();
    }

    /// <summary>The public half of an ES256 private key, as SubjectPublicKeyInfo PEM.</summary>
    public static string PublicKeyPem(string privateKeyPem)
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(privateKeyPem);
        return key.ExportSubjectPublicKeyInfoPem();
    }

    /// <summary>An ES256 signing key from PEM (PKCS#8 or SEC1), its key id the RFC 7638 thumbprint of its public half.</summary>
    public static ECDsaSecurityKey PrivateKey(string pem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(pem);
        var parameters = key.ExportParameters(includePrivateParameters: true);
        if (parameters.D is null || key.KeySize != 256)
        {
            throw new InvalidOperationException("A signing key must be an ECDSA P-256 private key (PEM).");
        }

        return WithThumbprint(new ECDsaSecurityKey(key));
    }

    /// <summary>
    /// Verification keys from text: a JWKS document (<c>{"keys":[…]}</c>) or PEM public keys (EC or RSA), one or
    /// several one after the other (a caller's current and next key during a rotation).
    /// Refuses private keys: whoever holds one could sign what it is meant only to check.
    /// </summary>
    public static IReadOnlyList<SecurityKey> PublicKeys(string text)
    {
        text = text.Trim();
        if (!text.StartsWith('{') && PemBlocks(text) is { Count: > 1 } blocks)
        {
            return [.. blocks.SelectMany(PublicKeys)];
        }

        return [.. OnePublicKeyOrSet(text)];
    }

    private static List<string> PemBlocks(string text)
    {
        var blocks = new List<string>();
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            blocks.Add(rest[fields.Location].ToString());
            rest = rest[fields.Location.End..];
        }

        return blocks;
    }

    private static IReadOnlyList<SecurityKey> OnePublicKeyOrSet(string text)
    {
        text = text.Trim();
        if (text.StartsWith('{'))
        {
            var set = new JsonWebKeySet(text);
            if (set.Keys.Any(key => key.HasPrivateKey))
            {
                throw new InvalidOperationException("A verification key set must hold public keys only.");
            }

            return [.. set.GetSigningKeys()];
        }

        if (text.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("A verification key must be a public key: give the PUBLIC KEY PEM, not the private key.");
        }

        if (text.Contains("RSA PUBLIC KEY", StringComparison.Ordinal) || IsRsa(text))
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(text);
            return [WithThumbprint(new RsaSecurityKey(rsa))];
        }

        var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(text);
        return [WithThumbprint(new ECDsaSecurityKey(ecdsa))];
    }

    /// <summary>The public half of an ES256 key, under the same key id: what a verifier of its signatures holds.</summary>
    public static ECDsaSecurityKey PublicHalf(ECDsaSecurityKey key) => new(PublicOnly(key.ECDsa)) { KeyId = key.KeyId };

    /// <summary>An ES256 key as a public JWK (RFC 7517), the shape a published key set (JWKS) lists it in.</summary>
    public static IReadOnlyDictionary<string, string> PublicJwk(ECDsaSecurityKey key)
    {
        var parameters = key.ECDsa.ExportParameters(includePrivateParameters: false);
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["kty"] = "EC",
            ["crv"] = "P-256",
            ["x"] = Base64UrlEncoder.Encode(parameters.Q.X),
            ["y"] = Base64UrlEncoder.Encode(parameters.Q.Y),
            ["kid"] = key.KeyId,
            ["use"] = "sig",
            ["alg"] = Algorithm,
        };
    }

    /// <summary>
    /// Development only: an ES256 key for <paramref name="name"/> ("dev-issuer", or a service's name), derived from
    /// <c>Authentication:DevelopmentKeySeed</c> or, without one, from a seed generated at first run into
    /// <c>~/.brokering/dev-key-seed</c> (owner-only). Every local service derives the same keys from the same seed,
    /// so a token one issues is checked by the others with no key to hand around.
    /// </summary>
    public static ECDsaSecurityKey DevelopmentKey(IConfiguration configuration, IHostEnvironment environment, string name)
    {
        if (!environment.IsDevelopment())
        {
            throw new InvalidOperationException($"Development keys exist only in Development; configure the key for '{name}'.");
        }

        var seed = configuration[DevelopmentSeedSetting];
        if (string.IsNullOrEmpty(seed))
        {
            seed = DevelopmentSeed();
        }

        return Derive(seed, name);
    }

    /// <summary>The key <see cref="DevelopmentKey"/> derives from <paramref name="seed"/> for <paramref name="name"/>.</summary>
    public static ECDsaSecurityKey Derive(string seed, string name)
    {
        // P-256's order; a derived scalar must lie in [1, n-1].
        var order = System.Numerics.BigInteger.Parse("0FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", System.Globalization.NumberStyles.HexNumber);
        var material = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(seed), 48, salt: Encoding.UTF8.GetBytes("brokering-dev-key"), info: Encoding.UTF8.GetBytes(name));
        var scalar = (new System.Numerics.BigInteger(material, isUnsigned: true, isBigEndian: true) % (order - 1)) + 1;
        var d = scalar.ToByteArray(isUnsigned: true, isBigEndian: true);
        var padded = new byte[32];
        d.CopyTo(padded, 32 - d.Length);
        var key = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = padded });
        return WithThumbprint(new ECDsaSecurityKey(key));
    }

    /// <summary>Where a locally run system keeps its development seed.</summary>
    public static string DevelopmentSeedFile =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".brokering", "dev-key-seed");

    private static string DevelopmentSeed()
    {
        var path = DevelopmentSeedFile;
        var folder = Path.GetDirectoryName(path)!;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        try
        {
            // CreateNew: when two services start at once, one writes and the other reads. Owner-only, as the seed
            // lets whoever reads it mint any development token.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var stream = new FileStream(path, options);
            using var writer = new StreamWriter(stream);
            writer.Write(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        }
        catch (IOException) when (File.Exists(path))
        {
            // Already generated.
        }

        for (var attempt = 0; ; attempt++)
        {
            var seed = File.ReadAllText(path).Trim();
            if (seed.Length > 0 || attempt == 20)
            {
                return seed;
            }

            Thread.Sleep(50);
        }
    }

    private static bool IsRsa(string pem)
    {
        try
        {
            using var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return true;
        }
        catch (Exception exception) when (exception is CryptographicException or ArgumentException)
        {
            return false;
        }
    }

    private static ECDsa PublicOnly(ECDsa key)
    {
        var copy = ECDsa.Create();
        copy.ImportParameters(key.ExportParameters(includePrivateParameters: false));
        return copy;
    }

    private static T WithThumbprint<T>(T key)
        where T : AsymmetricSecurityKey
    {
        var jwk = key switch
        {
            ECDsaSecurityKey ec => JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(PublicOnly(ec.ECDsa))),
            _ => JsonWebKeyConverter.ConvertFromSecurityKey(key),
        };
        key.KeyId = Base64UrlEncoder.Encode(jwk.ComputeJwkThumbprint());
        return key;
    }
}
