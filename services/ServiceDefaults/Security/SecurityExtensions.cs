using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// Every API is born authenticated: JWT bearer tokens on every endpoint (the fallback policy),
/// except those that opt out (health, metrics), one policy per role, and rate limits per caller (<see cref="RateLimits"/>).
/// </summary>
public static class SecurityExtensions
{
    public static WebApplicationBuilder AddServiceSecurity(this WebApplicationBuilder builder)
    {
        var settings = new TokenSettings(
            builder.Configuration["Authentication:Issuer"] ?? "brokering",
            builder.Configuration["Authentication:Audience"] ?? "brokering",
            SigningKeys.Load(builder.Configuration, builder.Environment));
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton<TokenIssuer>();
        builder.Services.AddTransient<ServiceTokenHandler>();

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer(options =>
            {
                options.MapInboundClaims = false;
                options.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = settings.Issuer,
                    ValidAudience = settings.Audience,
                    IssuerSigningKey = settings.Key,
                    // The one algorithm tokens are issued with; HS384/HS512 under the same key are not a second way in.
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    RoleClaimType = BrokeringRoles.RoleClaim,
                    NameClaimType = "sub",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
            });

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

    public static WebApplication UseServiceSecurity(this WebApplication app)
    {
        app.UseForwardedHeadersFromKnownProxies();
        app.UseAuthentication();
        app.UseClaimBounds();
        app.UseAuthorization();
        app.UseRateLimiter();
        if (app.Environment.IsDevelopment())
        {
            app.MapDevelopmentTokens();
        }

        return app;
    }

    /// <summary>Development only: <c>POST /dev/tokens</c> issues a token for any role and tenant, so people and tests can call the APIs.</summary>
    private static void MapDevelopmentTokens(this WebApplication app) =>
        app.MapPost("/dev/tokens", (DevelopmentTokenRequest request, TokenIssuer issuer) =>
            {
                var unknown = request.Roles?.Where(role => !BrokeringRoles.All.Contains(role)).ToList() ?? [];
                if (request.Roles is not { Count: > 0 } || unknown.Count > 0 || string.IsNullOrWhiteSpace(request.Subject))
                {
                    return Results.ValidationProblem(new Dictionary<string, string[]>
                    {
                        ["roles"] = [$"One or more of: {string.Join(", ", BrokeringRoles.All)}."],
                        ["subject"] = ["Required."],
                    });
                }

                var token = issuer.Issue(request.Subject, request.Roles, request.Tenant, TimeSpan.FromHours(8));
                return Results.Ok(new { accessToken = token, tokenType = "Bearer", expiresIn = 8 * 3600 });
            })
            .AllowAnonymous()
            .ExcludeFromDescription();

    /// <summary>Body of <c>POST /dev/tokens</c>.</summary>
    public sealed record DevelopmentTokenRequest(string? Subject, IReadOnlyList<string>? Roles, string? Tenant);
}
