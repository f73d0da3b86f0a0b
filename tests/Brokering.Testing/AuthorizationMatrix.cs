using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Brokering.ServiceDefaults.Security;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Testing;

/// <summary>
/// Checks every endpoint a service maps (read from its own endpoint data source, gRPC methods
/// included, so a new endpoint cannot be missed) against every caller: anonymous and each role.
/// The expectation names, per endpoint, the roles let through; an endpoint without an expectation
/// is itself a failure.
/// </summary>
public static class AuthorizationMatrix
{
    /// <summary>
    /// What every service maps through its service defaults, and who may call it: probes, scrapers, the published
    /// public keys and the development-only token endpoints anonymously; documentation and reflection with any token.
    /// </summary>
    public static IReadOnlyDictionary<string, string[]?> ServiceDefaults { get; } = new Dictionary<string, string[]?>(StringComparer.Ordinal)
    {
        ["GET /health/live"] = null,
        ["GET /health/ready"] = null,
        ["GET /metrics"] = null,
        ["POST /grpc.health.v1.Health/Check"] = null,
        ["POST /grpc.health.v1.Health/Watch"] = null,
        ["POST /dev/tokens"] = null,
        ["GET /dev/.well-known/openid-configuration"] = null,
        ["GET /dev/jwks.json"] = null,
        ["GET /.well-known/openid-configuration"] = null,
        ["GET /.well-known/jwks.json"] = null,
        ["GET /openapi/{documentName}.json"] = [.. BrokeringRoles.All],
        ["POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo"] = [.. BrokeringRoles.All],
        ["POST /grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"] = [.. BrokeringRoles.All],
    };

    /// <summary>A service's own expectations together with <see cref="ServiceDefaults"/>.</summary>
    public static Dictionary<string, string[]?> WithServiceDefaults(IReadOnlyDictionary<string, string[]?> own) =>
        own.Concat(ServiceDefaults).ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);

    /// <summary>The callers tried against every endpoint.</summary>
    public static readonly IReadOnlyList<string?> Callers = [null, .. BrokeringRoles.All];

    /// <summary>An endpoint as "METHOD /route/pattern".</summary>
    public static IReadOnlyList<string> Discover(IServiceProvider services) =>
        [.. DiscoverEndpoints(services).Select(endpoint => endpoint.Name).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>Every endpoint with its name ("METHOD /route/pattern"), one entry per HTTP method it answers.</summary>
    public static IReadOnlyList<(string Name, RouteEndpoint Endpoint)> DiscoverEndpoints(IServiceProvider services) =>
        [.. services.GetServices<EndpointDataSource>()
            .SelectMany(source => source.Endpoints)
            .OfType<RouteEndpoint>()
            .Where(endpoint => endpoint.RoutePattern.RawText is { } raw && !raw.Contains("{unimplemented", StringComparison.Ordinal))
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(method => ($"{method} /{endpoint.RoutePattern.RawText!.TrimStart('/')}", endpoint)))
            .DistinctBy(endpoint => endpoint.Item1)
            .OrderBy(endpoint => endpoint.Item1, StringComparer.Ordinal)];

    /// <summary>
    /// Calls every endpoint as every caller. <paramref name="allowed"/> maps each endpoint to the roles that
    /// must get through (null: anonymous callers too). Returns every mismatch, empty when all is as expected.
    /// </summary>
    public static async Task<IReadOnlyList<string>> VerifyAsync(
        HttpClient client, IServiceProvider services, IReadOnlyDictionary<string, string[]?> allowed, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        foreach (var endpoint in Discover(services))
        {
            if (!allowed.TryGetValue(endpoint, out var roles))
            {
                failures.Add($"{endpoint}: no expectation; add it to the matrix.");
                continue;
            }

            foreach (var caller in Callers)
            {
                var status = await CallAsync(client, endpoint, caller, cancellationToken);
                var mayPass = roles is null || (caller is not null && roles.Contains(caller));
                var passed = status is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden);
                if (mayPass != passed)
                {
                    failures.Add($"{endpoint} as {caller ?? "anonymous"}: {(int)status}, expected {(mayPass ? "to get through" : caller is null ? "401" : "403")}.");
                }
                else if (!passed && caller is null && status != HttpStatusCode.Unauthorized)
                {
                    failures.Add($"{endpoint} as anonymous: {(int)status}, expected 401.");
                }
            }
        }

        return failures;
    }

    private static async Task<HttpStatusCode> CallAsync(HttpClient client, string endpoint, string? role, CancellationToken cancellationToken)
    {
        var (method, route) = (endpoint[..endpoint.IndexOf(' ', StringComparison.Ordinal)], endpoint[(endpoint.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
        using var request = new HttpRequestMessage(new HttpMethod(method), Concrete(route));
        if (role is not null)
        {
            // The tenant matches the value route parameters get, so "your own" routes (a distributor's feed) are in reach.
            var tenant = role is BrokeringRoles.Buyer or BrokeringRoles.Distributor ? "matrix" : null;
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.For($"matrix-{role}", tenant, role));
        }

        if (method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        // Headers are enough, and streaming endpoints never end their body.
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        return response.StatusCode;
    }

    // Route parameters get values of the right shape, so the request reaches authorization and the handler.
    private static string Concrete(string route) =>
        System.Text.RegularExpressions.Regex.Replace(route, @"\{(?<name>[^}:]+)(:(?<constraint>[^}]+))?\}", match =>
            match.Groups["constraint"].Value.StartsWith("guid", StringComparison.Ordinal) || match.Groups["name"].Value.EndsWith("Id", StringComparison.Ordinal)
                ? Guid.NewGuid().ToString()
                : "matrix");
}
