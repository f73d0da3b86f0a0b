using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Only a token the services issue is accepted: HS256 with the shared key, the right issuer and audience, unexpired.
/// A token signed with another algorithm under the same key, another key, none at all, expired, or for another issuer
/// or audience is 401; <c>/dev/tokens</c> does not exist outside Development.
/// </summary>
public sealed class TokenValidationTests(InventoryFixture fixture)
{
    private static readonly SymmetricSecurityKey SharedKey = new(Convert.FromBase64String(TestTokens.SigningKey));

    public static TheoryData<string, string> Refused => new()
    {
        { "HS512 under the shared key", Hs512() },
        { "another key", Token(key: new SymmetricSecurityKey(Convert.FromBase64String(SigningKeys.NewKey()))) },
        { "expired", Token(expires: DateTime.UtcNow.AddMinutes(-5)) },
        { "another issuer", Token(issuer: "someone-else") },
        { "another audience", Token(audience: "someone-else") },
        { "unsigned (alg none)", Unsigned() },
    };

    [Fact]
    public async Task A_token_as_the_services_issue_it_is_accepted()
    {
        using var response = await GetAsync(Token());

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_token_not_as_the_services_issue_it_is_401(string what, string token)
    {
        using var response = await GetAsync(token);

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, what);
    }

    [Fact]
    public async Task Dev_tokens_does_not_exist_outside_development()
    {
        await using var production = await InventoryHost.StartAsync(
            fixture.Database, fixture.VirtualHost, new Dictionary<string, string> { ["environment"] = "Production" });
        using var client = production.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token());

        using var response = await client.PostAsync("/dev/tokens",
            new StringContent("""{"subject":"mallory","roles":["ops"]}""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        using var development = await fixture.A.CreateClient().PostAsync("/dev/tokens",
            new StringContent("""{"subject":"mallory","roles":["ops"]}""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        development.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private async Task<HttpResponseMessage> GetAsync(string token)
    {
        using var client = fixture.A.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.GetAsync("/v1/distributors", TestContext.Current.CancellationToken);
    }

    private static string Token(
        string algorithm = SecurityAlgorithms.HmacSha256, SecurityKey? key = null, DateTime? expires = null, string issuer = "brokering", string audience = "brokering")
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", "ops-tester"), new Claim(BrokeringRoles.RoleClaim, BrokeringRoles.Ops)]),
            IssuedAt = (expires ?? now).AddMinutes(-30),
            NotBefore = (expires ?? now).AddMinutes(-30),
            Expires = expires ?? now.AddMinutes(30),
            SigningCredentials = new SigningCredentials(key ?? SharedKey, algorithm),
        });
    }

    // IdentityModel will not sign HS512 with a 256-bit key; an attacker holding the key would sign by hand, as here.
    private static string Hs512()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        static string Segment(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var signed = $"{Segment("""{"alg":"HS512","typ":"JWT"}""")}.{Segment($$"""{"sub":"ops-tester","role":"ops","iss":"brokering","aud":"brokering","nbf":{{now - 60}},"exp":{{now + 600}}}""")}";
        var signature = System.Security.Cryptography.HMACSHA512.HashData(SharedKey.Key, Encoding.ASCII.GetBytes(signed));
        return $"{signed}.{Base64UrlEncoder.Encode(signature)}";
    }

    private static string Unsigned()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        static string Segment(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        return $"{Segment("""{"alg":"none","typ":"JWT"}""")}.{Segment($$"""{"sub":"ops-tester","role":"ops","iss":"brokering","aud":"brokering","nbf":{{now - 60}},"exp":{{now + 600}}}""")}.";
    }
}
