using Brokering.ServiceDefaults.Security;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.Testing;

/// <summary>
/// Tokens for tests: one signing key per test process, handed to every service a test hosts
/// (setting <c>Authentication:SigningKey</c>), so tests call the APIs exactly as clients do.
/// </summary>
public static class TestTokens
{
    /// <summary>The key services under test must be configured with.</summary>
    public static string SigningKey { get; } = SigningKeys.NewKey();

    private static readonly TokenIssuer Issuer = new(
        new TokenSettings("brokering", "brokering", new SymmetricSecurityKey(Convert.FromBase64String(SigningKey))),
        TimeProvider.System);

    /// <summary>A token for <paramref name="subject"/> with the given roles, acting for <paramref name="tenant"/>.</summary>
    public static string For(string subject, string? tenant, params string[] roles) =>
        Issuer.Issue(subject, roles, tenant, TimeSpan.FromHours(2));

    /// <summary>A buyer organisation's token.</summary>
    public static string Buyer(string buyerId) => For($"user@{buyerId}", buyerId, BrokeringRoles.Buyer);

    /// <summary>A distributor's token.</summary>
    public static string Distributor(string distributorId) => For($"feed@{distributorId}", distributorId, BrokeringRoles.Distributor);

    /// <summary>An operator's token.</summary>
    public static string Operator() => For("operator", null, BrokeringRoles.Ops);

    /// <summary>A compliance officer's token.</summary>
    public static string ComplianceOfficer() => For("officer", null, BrokeringRoles.ComplianceOfficer);

    /// <summary>Another Brokering service's token.</summary>
    public static string Service(string name = "ordering") => For(name, null, BrokeringRoles.Service);
}
