using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.ServiceDefaults.Security;

/// <summary>Issues Brokering tokens: for service-to-service calls, and in development for people and tests.</summary>
public sealed class TokenIssuer(TokenSettings settings, TimeProvider clock)
{
    private readonly JsonWebTokenHandler handler = new();

    public string Issue(string subject, IEnumerable<string> roles, string? tenant, TimeSpan lifetime)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var claims = new List<Claim> { new(JwtRegisteredClaimNames.Sub, subject) };
        claims.AddRange(roles.Select(role => new Claim(BrokeringRoles.RoleClaim, role)));
        if (!string.IsNullOrEmpty(tenant))
        {
            claims.Add(new Claim(BrokeringRoles.TenantClaim, tenant));
        }

        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now,
            NotBefore = now.AddSeconds(-5),
            Expires = now.Add(lifetime),
            SigningCredentials = new SigningCredentials(settings.Key, SecurityAlgorithms.HmacSha256),
        });
    }
}

/// <summary>Issuer, audience and key every service validates tokens against.</summary>
public sealed record TokenSettings(string Issuer, string Audience, SecurityKey Key);
