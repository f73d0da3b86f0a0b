using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// A token handler that remembers the tokens it found valid, so a caller presenting the same token again is not
/// verified again: an ES256 signature check costs about 80 µs of CPU, a fifth of what inventory spent on a whole hold,
/// and a calling service presents one token for its whole lifetime, call after call.
/// </summary>
/// <remarks>
/// A remembered token is taken until it expires (its <c>exp</c>; the clock skew the first validation allowed past it is
/// left to a new validation) and for <see cref="MaxAge"/> at most, so a signing key withdrawn from the trusted set, or a
/// configuration reloaded, reaches every token within that time. Only valid tokens are remembered (an attacker cannot
/// fill the memory with them without the signing keys), each caller gets its own copy of the claims (a scheme's
/// checks add claims to them), and one handler serves one scheme, so a token valid for one scheme says nothing about
/// another's.
/// </remarks>
public sealed class ValidatedTokens : JsonWebTokenHandler
{
    /// <summary>How long a validated token is taken without a new validation, at most.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);

    // Beyond this many distinct live tokens the memory starts over: a bound, not an eviction policy worth more code.
    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, Entry> validated = new(StringComparer.Ordinal);
    private readonly TimeProvider clock;

    public ValidatedTokens(TimeProvider clock)
    {
        this.clock = clock;
        // As JwtBearer's own handler is configured: claim types as the token names them.
        MapInboundClaims = false;
    }

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        var now = clock.GetUtcNow();
        if (validated.TryGetValue(token, out var known))
        {
            if (now < known.Until)
            {
                return new TokenValidationResult
                {
                    IsValid = true,
                    ClaimsIdentity = known.Identity.Clone(),
                    SecurityToken = known.Token,
                    Issuer = known.Token.Issuer,
                    TokenType = known.Token.Typ,
                };
            }

            validated.TryRemove(token, out _);
        }

        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (result is { IsValid: true, SecurityToken: JsonWebToken jwt, ClaimsIdentity: { } identity })
        {
            var expires = new DateTimeOffset(DateTime.SpecifyKind(jwt.ValidTo, DateTimeKind.Utc));
            var until = expires < now + MaxAge ? expires : now + MaxAge;
            if (until > now)
            {
                if (validated.Count >= MaxEntries)
                {
                    validated.Clear();
                }

                // Kept apart from what this caller is given: the scheme's checks may add claims to the result's identity.
                validated[token] = new Entry(identity.Clone(), jwt, until);
            }
        }

        return result;
    }

    private sealed record Entry(ClaimsIdentity Identity, JsonWebToken Token, DateTimeOffset Until);
}
