using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// Every API is born authenticated: JWT bearer tokens on every endpoint (the fallback policy),
/// except those that opt out (health, metrics), one policy per role, and rate limits per caller (<see cref="RateLimits"/>).
/// </summary>
public static class SecurityExtensions
{
    /// <summary>The default scheme: picks <see cref="UserScheme"/> or a caller's service scheme by the token's issuer.</summary>
    public const string Scheme = "Brokering";

    /// <summary>Tokens of people and tenants, from the identity provider (or the development issuer).</summary>
    public const string UserScheme = "User";

    /// <summary>Prefix of the scheme per calling service: <c>Service:ordering</c>.</summary>
    public const string ServiceSchemePrefix = "Service:";

    // The memory of chosen schemes holds what anyone may send, unverified: at most this many headers of at most this
    // length (4 MiB), and a flood of others only costs the parse each header cost before.
    private const int MaxChosenSchemes = 1_000;
    private const int MaxRememberedHeaderLength = 2_048;

    public static WebApplicationBuilder AddServiceSecurity(this WebApplicationBuilder builder)
    {
        var settings = TokenSettings.Load(builder.Configuration, builder.Environment, TimeProvider.System);
        builder.Services.AddSingleton(settings);

        var authentication = builder.Services.AddAuthentication(Scheme)
            .AddPolicyScheme(Scheme, "Brokering bearer tokens", options =>
            {
                // The scheme chosen per Authorization header, one memory per host: each host trusts its own callers.
                var chosen = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
                options.ForwardDefaultSelector = context => SchemeFor(context, settings, chosen);
            })
            .AddJwtBearer(UserScheme, options =>
            {
                RememberValidTokens(options);
                options.Authority = settings.Authority;
                options.MetadataAddress = settings.MetadataAddress!;
                options.RequireHttpsMetadata = settings.RequireHttpsMetadata;
                options.TokenValidationParameters = Parameters(settings, settings.UserAlgorithms);
                if (settings.UserIssuers.Count > 0)
                {
                    options.TokenValidationParameters.ValidIssuers = settings.UserIssuers;
                }

                if (settings.UserKeys.Count > 0)
                {
                    options.TokenValidationParameters.IssuerSigningKeys = settings.UserKeys;
                }

                options.Events = new JwtBearerEvents { OnTokenValidated = context => CheckUser(context, settings) };
            });
        foreach (var caller in settings.Callers.Values)
        {
            authentication.AddJwtBearer(ServiceSchemePrefix + caller.Name, options =>
            {
                RememberValidTokens(options);
                options.MetadataAddress = caller.MetadataAddress!;
                options.RequireHttpsMetadata = caller.RequireHttpsMetadata;
                // A caller signs with ES256 under its own key and names itself as issuer; nothing else speaks for it.
                options.TokenValidationParameters = Parameters(settings, [SigningKeys.Algorithm]);
                options.TokenValidationParameters.ValidIssuer = caller.Name;
                if (caller.Keys.Count > 0)
                {
                    options.TokenValidationParameters.IssuerSigningKeys = caller.Keys;
                }

                options.Events = new JwtBearerEvents { OnTokenValidated = context => CheckService(context, caller) };
            });
        }

        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(BrokeringRoles.Buyer, policy => policy.RequireRole(BrokeringRoles.Buyer).RequireClaim(BrokeringRoles.TenantClaim))
            .AddPolicy(BrokeringRoles.Distributor, policy => policy.RequireRole(BrokeringRoles.Distributor).RequireClaim(BrokeringRoles.TenantClaim))
            .AddPolicy(BrokeringRoles.Ops, policy => policy.RequireRole(BrokeringRoles.Ops))
            .AddPolicy(BrokeringRoles.ComplianceOfficer, policy => policy.RequireRole(BrokeringRoles.ComplianceOfficer))
            .AddPolicy(BrokeringRoles.Service, policy => policy.RequireRole(BrokeringRoles.Service))
            .AddPolicy(BrokeringRoles.Oversight, policy => policy.RequireRole(BrokeringRoles.Ops, BrokeringRoles.ComplianceOfficer))
            .AddPolicy(BrokeringRoles.Platform, policy => policy.RequireRole(BrokeringRoles.Ops, BrokeringRoles.Service));

        builder.AddRateLimits();
        return builder;
    }

    // Claim types as the token names them, and a token found valid taken again without its signature checked (ValidatedTokens):
    // one handler per scheme, so what one scheme found valid says nothing to another.
    private static void RememberValidTokens(JwtBearerOptions options)
    {
        options.MapInboundClaims = false;
        options.TokenHandlers.Clear();
        options.TokenHandlers.Add(new ValidatedTokens(TimeProvider.System));
    }

    private static TokenValidationParameters Parameters(TokenSettings settings, IReadOnlyList<string> algorithms) => new()
    {
        ValidAudience = settings.Audience,
        ValidAlgorithms = algorithms,
        RoleClaimType = BrokeringRoles.RoleClaim,
        NameClaimType = "sub",
        ClockSkew = TimeSpan.FromSeconds(30),
        RequireExpirationTime = true,
        RequireSignedTokens = true,
    };

    // Which scheme checks a token: the scheme of the calling service its (not yet verified) issuer names, else the
    // user scheme. The choice grants nothing: each scheme verifies the signature against its own keys only. A caller
    // presents one header call after call, so the choice is remembered per header instead of parsing the token each time.
    private static string SchemeFor(HttpContext context, TokenSettings settings, ConcurrentDictionary<string, string> chosen)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (settings.Callers.Count == 0 || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return UserScheme;
        }

        if (chosen.TryGetValue(header, out var known))
        {
            return known;
        }

        var scheme = UserScheme;
        var token = header["Bearer ".Length..].Trim();
        var handler = new JsonWebTokenHandler();
        if (handler.CanReadToken(token))
        {
            try
            {
                if (handler.ReadJsonWebToken(token).Issuer is { } issuer && settings.Callers.ContainsKey(issuer))
                {
                    scheme = ServiceSchemePrefix + issuer;
                }
            }
            catch (ArgumentException)
            {
                // Malformed: the user scheme refuses it like any other.
            }
        }

        if (header.Length <= MaxRememberedHeaderLength)
        {
            if (chosen.Count >= MaxChosenSchemes)
            {
                chosen.Clear();
            }

            chosen[header] = scheme;
        }

        return scheme;
    }

    // A person's token never makes its bearer a service: service identity comes only from a calling service's own key.
    private static Task CheckUser(TokenValidatedContext context, TokenSettings settings)
    {
        var identity = (ClaimsIdentity)context.Principal!.Identity!;
        // Before the service check: a provider's nested roles naming service are refused like a flat one.
        settings.UserRoleClaims.Apply(identity);
        if (identity.FindAll(BrokeringRoles.RoleClaim).Any(role => role.Value == BrokeringRoles.Service))
        {
            context.Fail("A user token cannot carry the service role.");
        }

        return Task.CompletedTask;
    }

    // A service token is the service and nothing else: role service only, no tenant, subject the caller itself.
    private static Task CheckService(TokenValidatedContext context, CallerTrust caller)
    {
        var principal = context.Principal!;
        var roles = principal.FindAll(BrokeringRoles.RoleClaim).Select(role => role.Value).ToList();
        if (roles.Count == 0 || roles.Any(role => role != BrokeringRoles.Service)
            || principal.HasClaim(claim => claim.Type == BrokeringRoles.TenantClaim)
            || principal.FindFirst("sub")?.Value != caller.Name)
        {
            context.Fail($"A service token of {caller.Name} carries role service alone, no tenant, and subject {caller.Name}.");
        }

        return Task.CompletedTask;
    }

    public static WebApplication UseServiceSecurity(this WebApplication app)
    {
        app.UseForwardedHeadersFromKnownProxies();
        app.UseAuthentication();
        app.UseClaimBounds();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.MapServiceKeys();
        if (app.Environment.IsDevelopment())
        {
            app.MapDevelopmentTokens();
        }

        return app;
    }

    /// <summary>
    /// This service's own public keys (its signing key, and the next or previous one during a rotation), published as a
    /// key set (<c>/.well-known/jwks.json</c>) behind a discovery document whose issuer is the service's name, so a
    /// service it calls can take its keys from there (<c>Authentication:Callers:{name}:MetadataAddress</c>) instead of
    /// configuring them.
    /// </summary>
    private static void MapServiceKeys(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<TokenSettings>();
        var keys = settings.PublishedServiceKeys.Select(SigningKeys.PublicJwk).ToArray();
        app.MapKeySet("/.well-known/openid-configuration", "/.well-known/jwks.json", settings.ServiceName, keys);
    }

    /// <summary>An issuer's public keys (JWKS) behind an OIDC discovery document, as identity providers publish theirs.</summary>
    private static void MapKeySet<TKey>(this WebApplication app, string discoveryPath, string jwksPath, string issuer, TKey[] keys)
    {
        app.MapGet(discoveryPath, (HttpRequest request) => Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = issuer,
                ["jwks_uri"] = $"{request.Scheme}://{request.Host}{request.PathBase}{jwksPath}",
                ["id_token_signing_alg_values_supported"] = new[] { SigningKeys.Algorithm },
            }))
            .AllowAnonymous()
            .ExcludeFromDescription();
        app.MapGet(jwksPath, () => Results.Json(new { keys }))
            .AllowAnonymous()
            .ExcludeFromDescription();
    }

    /// <summary>
    /// Development only: <c>POST /dev/tokens</c> issues a user token for any role but <c>service</c> and any tenant,
    /// for every platform service's audience unless <c>audiences</c> names some, so people and tests can call the APIs.
    /// Its key set is published behind a discovery document at <c>/dev/.well-known/openid-configuration</c>, as an
    /// identity provider's is, so a service can be pointed at it with <c>Authentication:Authority</c>.
    /// </summary>
    private static void MapDevelopmentTokens(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<TokenSettings>();
        var issuer = settings.DevelopmentIssuer!;
        app.MapPost("/dev/tokens", (DevelopmentTokenRequest request) =>
            {
                var userRoles = BrokeringRoles.All.Where(role => role != BrokeringRoles.Service).ToList();
                var unknown = request.Roles?.Where(role => !userRoles.Contains(role)).ToList() ?? [];
                if (request.Roles is not { Count: > 0 } || unknown.Count > 0 || string.IsNullOrWhiteSpace(request.Subject)
                    || request.Audiences is { Count: 0 } || request.Audiences?.Any(string.IsNullOrWhiteSpace) == true)
                {
                    return Results.ValidationProblem(new Dictionary<string, string[]>
                    {
                        ["roles"] = [$"One or more of: {string.Join(", ", userRoles)} (a service signs its own tokens with its own key)."],
                        ["subject"] = ["Required."],
                        ["audiences"] = ["Optional; when given, one or more audiences."],
                    });
                }

                var audiences = request.Audiences ?? [.. TokenSettings.PlatformServices.Select(service => TokenSettings.AudienceOf(app.Configuration, service))];
                var token = issuer.Issue(request.Subject, request.Roles, request.Tenant, [.. audiences], TimeSpan.FromHours(8));
                return Results.Ok(new { accessToken = token, tokenType = "Bearer", expiresIn = 8 * 3600 });
            })
            .AllowAnonymous()
            .ExcludeFromDescription();
        app.MapKeySet("/dev/.well-known/openid-configuration", "/dev/jwks.json", issuer.Issuer, [SigningKeys.PublicJwk(issuer.Key)]);
    }

    /// <summary>Body of <c>POST /dev/tokens</c>.</summary>
    public sealed record DevelopmentTokenRequest(string? Subject, IReadOnlyList<string>? Roles, string? Tenant, IReadOnlyList<string>? Audiences = null);
}
