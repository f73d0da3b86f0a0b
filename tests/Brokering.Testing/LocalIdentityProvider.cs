using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Brokering.ServiceDefaults.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.Testing;

/// <summary>
/// An identity provider as Keycloak lays one out, on a real loopback port: a realm whose discovery document
/// (<c>/realms/brokering/.well-known/openid-configuration</c>) points at its key set, and RS256 tokens signed with
/// its key. It also publishes ordering's service key the way ordering itself does, for a caller found by discovery.
/// Over HTTPS when given a certificate, as a production deployment reaches its identity provider.
/// </summary>
public sealed class LocalIdentityProvider : IAsyncDisposable
{
    private static readonly string[] Algorithms = ["RS256"];
    private readonly WebApplication app;
    private readonly RsaSecurityKey key = new(RSA.Create(2048)) { KeyId = "realm-key-1" };
    private readonly RsaSecurityKey unpublished = new(RSA.Create(2048)) { KeyId = "realm-key-1" };

    private LocalIdentityProvider(WebApplication app) => this.app = app;

    /// <summary>The realm's URL: its issuer, and what <c>Authentication:Authority</c> names.</summary>
    public string Authority { get; private set; } = "";

    /// <summary>Where ordering's discovery document is served.</summary>
    public string OrderingMetadata { get; private set; } = "";

    /// <summary>
    /// Starts the provider on a free loopback port: plain HTTP, or HTTPS with <paramref name="certificate"/>. Ordering's
    /// key set lists <paramref name="orderingKeys"/> (ordering's test key unless given: two during a rotation).
    /// </summary>
    public static async Task<LocalIdentityProvider> StartAsync(
        CancellationToken cancellationToken, X509Certificate2? certificate = null, IReadOnlyList<ECDsaSecurityKey>? orderingKeys = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // The test's output folder holds inventory's appsettings.json, whose Kestrel endpoints are the real service's ports.
        builder.Configuration.Sources.Clear();
        if (certificate is null)
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["urls"] = "http://127.0.0.1:0" });
        }
        else
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        }

        builder.Logging.ClearProviders();
        var app = builder.Build();
        var provider = new LocalIdentityProvider(app);
        var parameters = provider.key.Rsa.ExportParameters(includePrivateParameters: false);
        app.MapGet("/realms/brokering/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = provider.Authority,
            ["jwks_uri"] = $"{provider.Authority}/protocol/openid-connect/certs",
            ["id_token_signing_alg_values_supported"] = Algorithms,
        }));
        app.MapGet("/realms/brokering/protocol/openid-connect/certs", () => Results.Json(new
        {
            keys = new[]
            {
                new Dictionary<string, string>
                {
                    ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = provider.key.KeyId,
                    ["n"] = Base64UrlEncoder.Encode(parameters.Modulus), ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
                },
            },
        }));
        var ordering = orderingKeys ?? [SigningKeys.PublicHalf(SigningKeys.PrivateKey(TestTokens.ServiceKey("ordering")))];
        app.MapGet("/ordering/.well-known/openid-configuration", (HttpRequest request) => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = "ordering",
            ["jwks_uri"] = $"{request.Scheme}://{request.Host}/ordering/.well-known/jwks.json",
        }));
        app.MapGet("/ordering/.well-known/jwks.json", () => Results.Json(new { keys = ordering.Select(SigningKeys.PublicJwk).ToArray() }));
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        provider.Authority = $"{address}/realms/brokering";
        provider.OrderingMetadata = $"{address}/ordering/.well-known/openid-configuration";
        return provider;
    }

    /// <summary>A token of the realm for the given audiences and role, signed RS256 with its published key.</summary>
    public string Issue(string[] audiences, string role) => Sign(key, audiences, role);

    /// <summary>A person's token of the realm: its subject, role and tenant (a buyer's or distributor's), for the given audiences.</summary>
    public string Issue(string subject, string role, string? tenant, string[] audiences) => Sign(key, audiences, role, subject, tenant);

    /// <summary>
    /// A token of the realm whose payload is <paramref name="claims"/> besides its subject (no flat role unless given):
    /// nested objects and arrays as Keycloak writes <c>realm_access</c> and <c>resource_access</c>.
    /// </summary>
    public string IssueWith(string[] audiences, IDictionary<string, object> claims)
    {
        var descriptor = Descriptor(key, audiences, [new Claim("sub", "idp-user")]);
        descriptor.Claims = claims;
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    /// <summary>The same, under the published key's id but signed with a key the realm never published.</summary>
    public string IssueWithUnpublishedKey(string[] audiences, string role) => Sign(unpublished, audiences, role);

    public async ValueTask DisposeAsync()
    {
        await app.DisposeAsync();
        key.Rsa.Dispose();
        unpublished.Rsa.Dispose();
    }

    private string Sign(RsaSecurityKey signingKey, string[] audiences, string role, string subject = "idp-user", string? tenant = null)
    {
        var claims = new List<Claim> { new("sub", subject), new(BrokeringRoles.RoleClaim, role) };
        if (tenant is not null)
        {
            claims.Add(new Claim(BrokeringRoles.TenantClaim, tenant));
        }

        return new JsonWebTokenHandler().CreateToken(Descriptor(signingKey, audiences, claims));
    }

    private SecurityTokenDescriptor Descriptor(RsaSecurityKey signingKey, string[] audiences, List<Claim> claims)
    {
        var now = DateTime.UtcNow;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Authority,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now,
            NotBefore = now.AddMinutes(-1),
            Expires = now.AddMinutes(30),
            SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.RsaSha256),
        };
        foreach (var audience in audiences)
        {
            descriptor.Audiences.Add(audience);
        }

        return descriptor;
    }
}
