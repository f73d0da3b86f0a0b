using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// Rate limits that protect rather than harm. Every caller has a budget of its own, so no caller can spend
/// another's: a tenant (buyer organisation or distributor) by its <c>tenant</c> claim, a service account (role
/// <c>service</c>) by its subject with a larger budget of its own (buyer load must not throttle ordering's calls to
/// inventory), any other token by its subject, and an anonymous caller by its client address. Probes and scrapers
/// (<c>/health/*</c>, <c>/metrics</c>, gRPC health) are never limited: a flood must not make the liveness probe
/// fail and get pods restarted. Long-lived streams (gRPC Watch, StockFeeds/Publish, the ops SSE) also hold one of a
/// few concurrent slots per caller for as long as they run (<see cref="StreamPolicy"/>).
/// </summary>
/// <remarks>
/// Configuration (<c>RateLimiting:*</c>): <c>PermitsPerSecondPerTenant</c> (200), <c>PermitsPerSecondPerService</c>
/// (five times the tenant budget), <c>PermitsPerSecondPerAnonymousAddress</c> (50), <c>ConcurrentStreamsPerCaller</c> (8).
/// The client address is the connection's unless <c>ForwardedHeaders:KnownProxies</c> or
/// <c>ForwardedHeaders:KnownNetworks</c> name the ingress, in which case its <c>X-Forwarded-For</c> is believed;
/// from anyone else the header is ignored, so a caller cannot pick its own bucket.
/// </remarks>
public static class RateLimits
{
    /// <summary>The policy long-lived streams opt into: a few concurrent streams per caller, none queued.</summary>
    public const string StreamPolicy = "streams";

    public static WebApplicationBuilder AddRateLimits(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var perTenant = configuration.GetValue("RateLimiting:PermitsPerSecondPerTenant", 200);
        var perService = configuration.GetValue("RateLimiting:PermitsPerSecondPerService", perTenant * 5);
        var perAddress = configuration.GetValue("RateLimiting:PermitsPerSecondPerAnonymousAddress", 50);
        var streams = configuration.GetValue("RateLimiting:ConcurrentStreamsPerCaller", 8);

        builder.Services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                if (IsProbeOrScrape(http.Request.Path))
                {
                    return RateLimitPartition.GetNoLimiter("probes");
                }

                var caller = CallerOf(http);
                var permits = caller.StartsWith("service:", StringComparison.Ordinal) ? perService
                    : caller.StartsWith("address:", StringComparison.Ordinal) ? perAddress
                    : perTenant;
                return RateLimitPartition.GetTokenBucketLimiter(caller, _ => Bucket(permits));
            });
            options.AddPolicy(StreamPolicy, http => RateLimitPartition.GetConcurrencyLimiter(CallerOf(http), _ => new ConcurrencyLimiterOptions
            {
                PermitLimit = streams,
                QueueLimit = 0,
            }));
            options.OnRejected = RejectAsync;
        });

        builder.Services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            // ASP.NET Core trusts loopback by default; only the configured ingress is believed here.
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            foreach (var proxy in configuration.GetSection("ForwardedHeaders:KnownProxies").Get<string[]>() ?? [])
            {
                options.KnownProxies.Add(IPAddress.Parse(proxy));
            }

            foreach (var network in configuration.GetSection("ForwardedHeaders:KnownNetworks").Get<string[]>() ?? [])
            {
                options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
        return builder;
    }

    /// <summary>Believes <c>X-Forwarded-For</c> only when a proxy is configured; runs before anything reads the client address.</summary>
    public static WebApplication UseForwardedHeadersFromKnownProxies(this WebApplication app)
    {
        if (app.Configuration.GetSection("ForwardedHeaders:KnownProxies").Exists() || app.Configuration.GetSection("ForwardedHeaders:KnownNetworks").Exists())
        {
            app.UseForwardedHeaders();
        }

        return app;
    }

    /// <summary>The budget a request is charged to: <c>tenant:</c>, <c>service:</c>, <c>subject:</c> or <c>address:</c> and its key.</summary>
    public static string CallerOf(HttpContext http)
    {
        var user = http.User;
        if (user.Identity?.IsAuthenticated == true)
        {
            if (user.IsInRole(BrokeringRoles.Service))
            {
                return $"service:{Subject(user)}";
            }

            if (user.FindFirst(BrokeringRoles.TenantClaim)?.Value is { Length: > 0 } tenant)
            {
                return $"tenant:{tenant}";
            }

            return $"subject:{Subject(user)}";
        }

        return $"address:{http.Connection.RemoteIpAddress?.ToString() ?? "unknown"}";
    }

    private static string Subject(ClaimsPrincipal user) => user.FindFirst("sub")?.Value ?? "unknown";

    private static bool IsProbeOrScrape(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics") || path.StartsWithSegments("/grpc.health.v1.Health");

    private static TokenBucketRateLimiterOptions Bucket(int permitsPerSecond) => new()
    {
        TokenLimit = permitsPerSecond * 2,
        TokensPerPeriod = permitsPerSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        if (http.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            // A gRPC client reads an HTTP 429 as UNAVAILABLE; RESOURCE_EXHAUSTED says what happened (trailers-only response).
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "application/grpc";
            http.Response.Headers["grpc-status"] = ((int)Grpc.Core.StatusCode.ResourceExhausted).ToString(CultureInfo.InvariantCulture);
            http.Response.Headers["grpc-message"] = Uri.EscapeDataString("Rate limit reached for this caller; retry after the time in Retry-After.");
            return;
        }

        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests.",
                Detail = "The rate limit for this caller was reached; retry after the time in Retry-After.",
            },
        });
    }
}
