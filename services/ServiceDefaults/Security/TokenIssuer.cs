using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// Signs Brokering tokens with one ES256 key under one issuer name: a service's own service tokens, and in
/// Development (and tests) the development issuer's user tokens. Services never hold the key of the issuer
/// whose user tokens they accept in production: that is the identity provider's.
/// </summary>
public sealed class TokenIssuer(string issuer, ECDsaSecurityKey key, TimeProvider clock)
{
    private readonly JsonWebTokenHandler handler = new();
    private readonly SigningCredentials credentials = new(key, SigningKeys.Algorithm);

    /// <summary>The <c>iss</c> of every token this issuer signs.</summary>
    public string Issuer { get; } = issuer;

    /// <summary>The signing key; its public half is what verifiers need.</summary>
    public ECDsaSecurityKey Key { get; } = key;

    public string Issue(string subject, IEnumerable<string> roles, string? tenant, IReadOnlyCollection<string> audiences, TimeSpan lifetime)
    {
        if (audiences.Count == 0)
        {
            throw new ArgumentException("A token names at least one audience.", nameof(audiences));
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var claims = new List<Claim> { new(JwtRegisteredClaimNames.Sub, subject) };
        claims.AddRange(roles.Select(role => new Claim(BrokeringRoles.RoleClaim, role)));
        if (!string.IsNullOrEmpty(tenant))
        {
            claims.Add(new Claim(BrokeringRoles.TenantClaim, tenant));
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now,
            NotBefore = now.AddSeconds(-5),
            Expires = now.Add(lifetime),
            SigningCredentials = credentials,
        };
        foreach (var audience in audiences)
        {
            descriptor.Audiences.Add(audience);
        }

        return handler.CreateToken(descriptor);
    }
}
