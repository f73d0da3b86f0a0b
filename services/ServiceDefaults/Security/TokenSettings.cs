using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// What a service trusts, read from <c>Authentication:*</c>:
/// <list type="bullet">
/// <item>user tokens (buyer, distributor, ops, officer) from an identity provider: <c>Authority</c> or
/// <c>MetadataAddress</c> (OIDC discovery, keys from its JWKS), or <c>Issuer</c> with <c>IssuerKey</c>/<c>IssuerKeyFile</c>
/// (a PEM public key or a JWKS document); algorithms <c>Algorithms</c> (asymmetric only, RS256 and ES256 by default);</item>
/// <item>service tokens from the services listed under <c>Callers:{name}</c>, each with its own public key
/// (<c>PublicKey</c>, <c>PublicKeyFile</c>) or the caller's discovery document (<c>MetadataAddress</c>), ES256 only;</item>
/// <item>its own service identity for the calls it makes: <c>ServiceKey</c>/<c>ServiceKeyFile</c> (ES256 private key, PEM),
/// and during a rotation one key besides it, published but never signed with: <c>ServiceKeyNext</c> (the key about to
/// sign) or <c>ServiceKeyPrevious</c> (the key that signed until now), each with its <c>File</c> form, a private or
/// public PEM (docs/security.md, "Rotating a service's key").</item>
/// </list>
/// Every token must name this service's <c>Audience</c> (default <c>brokering-{service}</c>). In Development, keys that
/// are not configured are derived from the development seed (<see cref="SigningKeys.DevelopmentKey"/>), and the
/// development issuer (<c>/dev/tokens</c>) is trusted besides whatever is configured.
/// </summary>
public sealed class TokenSettings
{
    /// <summary>The issuer name of <c>/dev/tokens</c>.</summary>
    public const string DevelopmentIssuerName = "brokering-dev";

    /// <summary>The services of the platform; a development token names all their audiences unless asked otherwise.</summary>
    public static readonly IReadOnlyList<string> PlatformServices = ["ordering", "inventory", "compliance"];

    private static readonly HashSet<string> AsymmetricAlgorithms = new(StringComparer.Ordinal)
    {
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
    };

    private TokenSettings(string serviceName, string audience)
    {
        ServiceName = serviceName;
        Audience = audience;
    }

    /// <summary>This service's name: the issuer and subject of its service tokens.</summary>
    public string ServiceName { get; }

    /// <summary>The audience every token this service accepts must name.</summary>
    public string Audience { get; }

    /// <summary>Identity provider by discovery: its authority, or its metadata address.</summary>
    public string? Authority { get; private init; }

    public string? MetadataAddress { get; private init; }

    public bool RequireHttpsMetadata { get; private init; } = true;

    /// <summary>User-token issuers and keys configured statically (and the development issuer in Development).</summary>
    public IReadOnlyList<string> UserIssuers { get; private init; } = [];

    public IReadOnlyList<SecurityKey> UserKeys { get; private init; } = [];

    /// <summary>The algorithms user tokens may be signed with.</summary>
    public IReadOnlyList<string> UserAlgorithms { get; private init; } = [];

    /// <summary>Where a user token carries its roles (<c>Authentication:RoleClaim</c>), when the identity provider does not put them in <c>role</c>.</summary>
    public UserRoleClaims UserRoleClaims { get; private init; } = UserRoleClaims.Parse(null, string.Empty);

    /// <summary>The services allowed to call this one, each with how its service tokens are checked.</summary>
    public IReadOnlyDictionary<string, CallerTrust> Callers { get; private init; } = new Dictionary<string, CallerTrust>();

    /// <summary>This service's own signer for its service tokens; null when it has no key (it then calls no one).</summary>
    public TokenIssuer? ServiceIssuer { get; private init; }

    /// <summary>
    /// The public halves of this service's keys, as its key set publishes them: the signing key first, then the
    /// next or previous key of a rotation, so a service it calls accepts tokens under either while they change over.
    /// </summary>
    public IReadOnlyList<ECDsaSecurityKey> PublishedServiceKeys { get; private init; } = [];

    /// <summary>Development only: the issuer behind <c>/dev/tokens</c>.</summary>
    public TokenIssuer? DevelopmentIssuer { get; private init; }

    /// <summary>The audience of another service's tokens: <c>Authentication:Audiences:{service}</c>, or <c>brokering-{service}</c>.</summary>
    public static string AudienceOf(IConfiguration configuration, string service) =>
        configuration[$"Authentication:Audiences:{service}"] is { Length: > 0 } configured ? configured : $"brokering-{service.ToLowerInvariant()}";

    public static TokenSettings Load(IConfiguration configuration, IHostEnvironment environment, TimeProvider clock)
    {
        var section = configuration.GetSection("Authentication");
        var development = environment.IsDevelopment();
        if (!development && !string.IsNullOrEmpty(configuration[SigningKeys.DevelopmentSeedSetting]))
        {
            throw new InvalidOperationException($"{SigningKeys.DevelopmentSeedSetting} is for Development only: outside it every key is configured.");
        }

        if (!string.IsNullOrEmpty(section["SigningKey"]) || !string.IsNullOrEmpty(section["SigningKeyFile"]))
        {
            throw new InvalidOperationException(
                "Authentication:SigningKey (one shared HS256 key) is no longer used: configure Authentication:Authority (or Issuer and IssuerKey) " +
                "for user tokens, Authentication:ServiceKey for this service's own identity and Authentication:Callers for the services that call it.");
        }

        var name = section["ServiceName"] is { Length: > 0 } configuredName
            ? configuredName
            : environment.ApplicationName.Split('.')[^1].ToLowerInvariant();
        var audience = section["Audience"] is { Length: > 0 } configuredAudience ? configuredAudience : $"brokering-{name}";

        var issuers = new List<string>();
        var keys = new List<SecurityKey>();
        if (Text(section, "IssuerKey") is { } issuerKey)
        {
            issuers.Add(section["Issuer"] is { Length: > 0 } issuer
                ? issuer
                : throw new InvalidOperationException("Authentication:IssuerKey needs Authentication:Issuer, the iss its tokens carry."));
            keys.AddRange(SigningKeys.PublicKeys(issuerKey));
        }
        else if (section["Issuer"] is { Length: > 0 } discoveredIssuer)
        {
            // With discovery the issuer comes from the metadata; a configured one is accepted besides it.
            issuers.Add(discoveredIssuer);
        }

        TokenIssuer? developmentIssuer = null;
        if (development)
        {
            developmentIssuer = new TokenIssuer(DevelopmentIssuerName, SigningKeys.DevelopmentKey(configuration, environment, "dev-issuer"), clock);
            issuers.Add(DevelopmentIssuerName);
            keys.Add(SigningKeys.PublicHalf(developmentIssuer.Key));
        }

        var authority = section["Authority"] is { Length: > 0 } a ? a : null;
        var metadata = section["MetadataAddress"] is { Length: > 0 } m ? m : null;
        if (authority is null && metadata is null && keys.Count == 0)
        {
            throw new InvalidOperationException(
                "No issuer of user tokens is configured: set Authentication:Authority (or MetadataAddress) to the identity provider, " +
                "or Authentication:Issuer with Authentication:IssuerKey (or IssuerKeyFile).");
        }

        var algorithms = (section["Algorithms"] is { Length: > 0 } list ? list : "RS256,ES256")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var refused = algorithms.Where(algorithm => !AsymmetricAlgorithms.Contains(algorithm)).ToList();
        if (refused.Count > 0 || algorithms.Length == 0)
        {
            // HS* would let anyone holding the (public) verification key sign, and "none" needs no key at all.
            throw new InvalidOperationException($"Authentication:Algorithms may name asymmetric algorithms only; refused: {string.Join(", ", refused)}.");
        }

        var callers = new Dictionary<string, CallerTrust>(StringComparer.Ordinal);
        foreach (var caller in section.GetSection("Callers").GetChildren())
        {
            var callerMetadata = caller["MetadataAddress"] is { Length: > 0 } address ? address : null;
            IReadOnlyList<SecurityKey> callerKeys = Text(caller, "PublicKey") is { } publicKey
                ? SigningKeys.PublicKeys(publicKey)
                : callerMetadata is not null
                    ? []
                    : development
                        ? [SigningKeys.PublicHalf(SigningKeys.DevelopmentKey(configuration, environment, caller.Key))]
                        : throw new InvalidOperationException(
                            $"Authentication:Callers:{caller.Key} needs PublicKey, PublicKeyFile or MetadataAddress: the key {caller.Key} signs its service tokens with.");
            callers[caller.Key] = new CallerTrust(caller.Key, callerKeys, callerMetadata, !bool.TryParse(caller["RequireHttpsMetadata"], out var https) || https);
        }

        var serviceKey = Text(section, "ServiceKey") is { } pem
            ? SigningKeys.PrivateKey(pem)
            : development ? SigningKeys.DevelopmentKey(configuration, environment, name) : null;

        var rotating = new List<ECDsaSecurityKey>();
        foreach (var setting in (string[])["ServiceKeyNext", "ServiceKeyPrevious"])
        {
            if (Text(section, setting) is not { } text)
            {
                continue;
            }

            var published = serviceKey is null
                ? throw new InvalidOperationException($"Authentication:{setting} is a key published beside Authentication:ServiceKey during a rotation; ServiceKey is not configured.")
                : RotatingKey(setting, text);
            if (published.KeyId == serviceKey.KeyId || rotating.Any(key => key.KeyId == published.KeyId))
            {
                throw new InvalidOperationException(
                    $"Authentication:{setting} is a key already configured: during a rotation it is the other key (ServiceKeyNext the new one, ServiceKeyPrevious the old one).");
            }

            rotating.Add(published);
        }

        return new TokenSettings(name, audience)
        {
            Authority = authority,
            MetadataAddress = metadata,
            RequireHttpsMetadata = !bool.TryParse(section["RequireHttpsMetadata"], out var requireHttps) || requireHttps,
            UserIssuers = issuers,
            UserKeys = keys,
            UserAlgorithms = algorithms,
            UserRoleClaims = UserRoleClaims.Parse(section["RoleClaim"], audience),
            Callers = callers,
            ServiceIssuer = serviceKey is null ? null : new TokenIssuer(name, serviceKey, clock),
            PublishedServiceKeys = serviceKey is null ? [] : [SigningKeys.PublicHalf(serviceKey), .. rotating],
            DevelopmentIssuer = developmentIssuer,
        };
    }

    // The operator may hand over the key pair as it is kept (the previous key's Secret) or only its public half: either
    // way nothing but the public half is held, since this key only has to be published.
    private static ECDsaSecurityKey RotatingKey(string setting, string text)
    {
        try
        {
            var key = text.Contains("PRIVATE KEY", StringComparison.Ordinal)
                ? SigningKeys.PublicHalf(SigningKeys.PrivateKey(text))
                : SigningKeys.PublicKeys(text) is [ECDsaSecurityKey { ECDsa.KeySize: 256 } single] ? single : null;
            return key ?? throw new InvalidOperationException($"Authentication:{setting} must be one ECDSA P-256 key (PEM).");
        }
        catch (Exception exception) when (exception is ArgumentException or CryptographicException)
        {
            throw new InvalidOperationException($"Authentication:{setting} must be one ECDSA P-256 key (PEM).", exception);
        }
    }

    // A setting given inline or as a file (Kubernetes Secrets and ConfigMaps mount as files).
    private static string? Text(IConfiguration section, string name) =>
        section[name] is { Length: > 0 } inline ? inline
        : section[name + "File"] is { Length: > 0 } file ? File.ReadAllText(file)
        : null;

}

/// <summary>How a calling service's tokens are checked: its own keys, or its discovery document.</summary>
public sealed record CallerTrust(string Name, IReadOnlyList<SecurityKey> Keys, string? MetadataAddress, bool RequireHttpsMetadata);
