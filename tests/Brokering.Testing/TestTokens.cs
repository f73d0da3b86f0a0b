using Brokering.ServiceDefaults.Security;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.Testing;

/// <summary>
/// Tokens for tests, as a production deployment gets them: user tokens from an identity provider (here a test
/// issuer whose ES256 private key only the tests hold; services get its public key), and service tokens signed by
/// each service's own key. <see cref="Settings"/> is what a hosted service is configured with, so tests call the
/// APIs exactly as clients do.
/// </summary>
public static class TestTokens
{
    /// <summary>The <c>iss</c> of test user tokens.</summary>
    public const string IssuerName = "brokering-test";

    private static readonly ECDsaSecurityKey IssuerKey = SigningKeys.PrivateKey(SigningKeys.NewPrivateKeyPem());

    private static readonly Dictionary<string, string> ServiceKeys = TokenSettings.PlatformServices
        .ToDictionary(service => service, _ => SigningKeys.NewPrivateKeyPem(), StringComparer.Ordinal);

    /// <summary>The test identity provider, for tests that mint tokens by hand.</summary>
    public static TokenIssuer Issuer { get; } = new(IssuerName, IssuerKey, TimeProvider.System);

    /// <summary>The test issuer's public key, PEM: what services verify user tokens with.</summary>
    public static string IssuerPublicKey { get; } = IssuerKey.ECDsa.ExportSubjectPublicKeyInfoPem();

    /// <summary>Every platform service's audience: a test user token is good at each, as one granted all three APIs.</summary>
    public static IReadOnlyList<string> AllAudiences { get; } = [.. TokenSettings.PlatformServices.Select(service => $"brokering-{service}")];

    /// <summary>The private key (PEM) of <paramref name="service"/>'s own service identity.</summary>
    public static string ServiceKey(string service) => ServiceKeys[service];

    /// <summary>
    /// Configuration (as <c>Authentication:*</c> keys) for hosting <paramref name="service"/>: the test issuer for user
    /// tokens, its own service key, and every platform service as a caller (tests call service-only APIs as any of them).
    /// </summary>
    public static IReadOnlyDictionary<string, string> Settings(string service)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Authentication:Issuer"] = IssuerName,
            ["Authentication:IssuerKey"] = IssuerPublicKey,
            ["Authentication:ServiceKey"] = ServiceKey(service),
        };
        foreach (var caller in TokenSettings.PlatformServices)
        {
            settings[$"Authentication:Callers:{caller}:PublicKey"] = SigningKeys.PublicKeyPem(ServiceKey(caller));
        }

        return settings;
    }

    /// <summary><see cref="Settings"/> as environment variables, for services started as processes.</summary>
    public static IReadOnlyDictionary<string, string> EnvironmentVariables(string service) =>
        Settings(service).ToDictionary(pair => pair.Key.Replace(":", "__", StringComparison.Ordinal), pair => pair.Value, StringComparer.Ordinal);

    /// <summary>
    /// A token for <paramref name="subject"/> with the given roles, acting for <paramref name="tenant"/>. Role
    /// <c>service</c> alone gives ordering's service token; mixed with user roles it is refused, as the services refuse it.
    /// </summary>
    public static string For(string subject, string? tenant, params string[] roles)
    {
        if (roles.Contains(BrokeringRoles.Service))
        {
            return roles.Length == 1
                ? Service()
                : throw new ArgumentException("A token is a service's or a person's, never both.", nameof(roles));
        }

        return Issuer.Issue(subject, roles, tenant, [.. AllAudiences], TimeSpan.FromHours(2));
    }

    /// <summary>A user token naming one service's audience alone (<c>brokering-{service}</c>).</summary>
    public static string ForAudienceOf(string service, string subject, string? tenant, params string[] roles) =>
        Issuer.Issue(subject, roles, tenant, [$"brokering-{service}"], TimeSpan.FromHours(2));

    /// <summary>A service token of <paramref name="name"/> naming one service's audience alone, as a service sends it.</summary>
    public static string ServiceFor(string name, string service) =>
        new TokenIssuer(name, SigningKeys.PrivateKey(ServiceKey(name)), TimeProvider.System)
            .Issue(name, [BrokeringRoles.Service], null, [$"brokering-{service}"], TimeSpan.FromHours(2));

    /// <summary>A buyer organisation's token.</summary>
    public static string Buyer(string buyerId) => For($"user@{buyerId}", buyerId, BrokeringRoles.Buyer);

    /// <summary>A distributor's token.</summary>
    public static string Distributor(string distributorId) => For($"feed@{distributorId}", distributorId, BrokeringRoles.Distributor);

    /// <summary>An operator's token.</summary>
    public static string Operator() => For("operator", null, BrokeringRoles.Ops);

    /// <summary>A compliance officer's token.</summary>
    public static string ComplianceOfficer() => For("officer", null, BrokeringRoles.ComplianceOfficer);

    /// <summary>The token of a person in <paramref name="role"/> acting for <paramref name="tenant"/>, as the role methods above issue it.</summary>
    public static string ForRole(string role, string? tenant) => role switch
    {
        BrokeringRoles.Buyer => Buyer(tenant ?? throw new ArgumentNullException(nameof(tenant), "A buyer acts for its organisation.")),
        BrokeringRoles.Distributor => Distributor(tenant ?? throw new ArgumentNullException(nameof(tenant), "A distributor acts for itself.")),
        BrokeringRoles.Ops => Operator(),
        BrokeringRoles.ComplianceOfficer => ComplianceOfficer(),
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "No person of the platform has this role."),
    };

    /// <summary>
    /// Another Brokering service's token, signed with that service's own key, for every platform audience
    /// (tests call one service as if the others called it; a real service names only the one it calls).
    /// </summary>
    public static string Service(string name = "ordering") =>
        new TokenIssuer(name, SigningKeys.PrivateKey(ServiceKey(name)), TimeProvider.System)
            .Issue(name, [BrokeringRoles.Service], null, [.. AllAudiences], TimeSpan.FromHours(2));
}
