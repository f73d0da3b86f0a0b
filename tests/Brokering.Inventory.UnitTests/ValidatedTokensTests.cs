using System.Security.Claims;
using Brokering.ServiceDefaults.Security;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.Inventory.UnitTests;

/// <summary>
/// Every service's token handler: a token found valid is taken again without its signature checked, until it expires
/// and for a minute at most, and never shares its claims between callers.
/// </summary>
public sealed class ValidatedTokensTests
{
    private static readonly ECDsaSecurityKey Key = SigningKeys.PrivateKey(SigningKeys.NewPrivateKeyPem());

    private readonly FakeTimeProvider clock = new(DateTimeOffset.UtcNow);

    [Fact]
    public async Task A_token_found_valid_is_taken_again_without_its_key_until_it_expires()
    {
        var tokens = new ValidatedTokens(clock);
        var token = Mint(expiresIn: TimeSpan.FromSeconds(40));
        (await tokens.ValidateTokenAsync(token, Trusting(Key))).IsValid.ShouldBeTrue();

        var again = await tokens.ValidateTokenAsync(token, Trusting());
        again.IsValid.ShouldBeTrue("the signature was checked once; no key is needed to take the same token again");
        again.ClaimsIdentity.FindFirst("sub")!.Value.ShouldBe("ordering");

        clock.Advance(TimeSpan.FromSeconds(41));
        (await tokens.ValidateTokenAsync(token, Trusting())).IsValid.ShouldBeFalse("past its exp the token is validated anew, and no key trusts it now");
    }

    [Fact]
    public async Task A_long_lived_token_is_validated_anew_after_a_minute_so_a_withdrawn_key_stops_it()
    {
        var tokens = new ValidatedTokens(clock);
        var token = Mint(expiresIn: TimeSpan.FromHours(1));
        (await tokens.ValidateTokenAsync(token, Trusting(Key))).IsValid.ShouldBeTrue();

        clock.Advance(ValidatedTokens.MaxAge - TimeSpan.FromSeconds(1));
        (await tokens.ValidateTokenAsync(token, Trusting())).IsValid.ShouldBeTrue();
        clock.Advance(TimeSpan.FromSeconds(2));
        (await tokens.ValidateTokenAsync(token, Trusting())).IsValid.ShouldBeFalse();
    }

    [Fact]
    public async Task A_token_found_invalid_is_not_remembered_and_another_handler_remembers_nothing_of_this_ones()
    {
        var tokens = new ValidatedTokens(clock);
        var other = SigningKeys.PrivateKey(SigningKeys.NewPrivateKeyPem());
        var token = Mint(expiresIn: TimeSpan.FromMinutes(5));
        (await tokens.ValidateTokenAsync(token, Trusting(other))).IsValid.ShouldBeFalse();
        (await tokens.ValidateTokenAsync(token, Trusting())).IsValid.ShouldBeFalse();

        (await tokens.ValidateTokenAsync(token, Trusting(Key))).IsValid.ShouldBeTrue();
        (await new ValidatedTokens(clock).ValidateTokenAsync(token, Trusting(other))).IsValid.ShouldBeFalse("one scheme's handler vouches for nothing in another's");
    }

    [Fact]
    public async Task Each_caller_gets_its_own_claims_so_what_one_adds_the_next_does_not_see()
    {
        var tokens = new ValidatedTokens(clock);
        var token = Mint(expiresIn: TimeSpan.FromMinutes(5));
        var first = await tokens.ValidateTokenAsync(token, Trusting(Key));
        first.ClaimsIdentity.AddClaim(new Claim("role", "ops"));

        var second = await tokens.ValidateTokenAsync(token, Trusting(Key));
        second.ClaimsIdentity.FindAll("role").Select(c => c.Value).ShouldBe(["service"]);
        second.ClaimsIdentity.AddClaim(new Claim("role", "compliance-officer"));
        (await tokens.ValidateTokenAsync(token, Trusting(Key))).ClaimsIdentity.FindAll("role").Select(c => c.Value).ShouldBe(["service"]);
    }

    private static string Mint(TimeSpan expiresIn) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "ordering",
        Audience = "brokering",
        IssuedAt = DateTime.UtcNow,
        NotBefore = DateTime.UtcNow,
        Expires = DateTime.UtcNow.Add(expiresIn),
        Claims = new Dictionary<string, object> { ["sub"] = "ordering", ["role"] = "service" },
        SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.EcdsaSha256),
    });

    private static TokenValidationParameters Trusting(params SecurityKey[] keys) => new()
    {
        ValidIssuer = "ordering",
        ValidAudience = "brokering",
        ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
        IssuerSigningKeys = [.. keys.Select(key => key is ECDsaSecurityKey ecdsa ? SigningKeys.PublicHalf(ecdsa) : key)],
        RequireExpirationTime = true,
        RequireSignedTokens = true,
        ClockSkew = TimeSpan.Zero,
    };
}
