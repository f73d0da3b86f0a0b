using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Brokering.ServiceDefaults.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Testing;

/// <summary>
/// Calls every operation of a service's OpenAPI document in the ways that draw each refusal, and records every answer
/// by operation, for <see cref="ApiDocument.Undeclared"/>: anonymously (401), with a role the endpoint does not admit
/// (403), and with one it admits: at ids nobody has (404), with a body that is not JSON (400) or not declared as JSON
/// (415), with each query parameter given a value of no type (400), and as it is (what a list or a summary answers).
/// Who is admitted is read from each endpoint's authorization policy, so a new endpoint is probed without anyone listing
/// it; a test adds the calls only it can make (a success that needs a record to exist) through <see cref="CallAsync"/>.
/// </summary>
public sealed partial class ApiProbe(HttpClient client, IServiceProvider services, ApiDocument document)
{
    /// <summary>The tenant of the probing buyer and distributor.</summary>
    public const string Tenant = "api-probe";

    /// <summary>Every answer so far, by operation ("METHOD /path" as the document names it).</summary>
    public Dictionary<string, List<ObservedAnswer>> Observed { get; } = new(StringComparer.Ordinal);

    /// <summary>A token of <paramref name="role"/>: the service's own for <see cref="BrokeringRoles.Service"/>, a person's (of <see cref="Tenant"/> where it has one) otherwise.</summary>
    public static string TokenFor(string role) => role == BrokeringRoles.Service
        ? TestTokens.Service()
        : TestTokens.For($"api-probe-{role}", role is BrokeringRoles.Buyer or BrokeringRoles.Distributor ? Tenant : null, role);

    /// <summary>Calls one operation and records its answer under <paramref name="operation"/>; returns the status.</summary>
    public async Task<int> CallAsync(string operation, string? token, HttpMethod method, string path, string? body = null,
        string contentType = "application/json", CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType) { CharSet = "utf-8" };
        }

        // Headers first: a stream (server-sent events) never ends its body.
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        var hasBody = mediaType == "text/event-stream"
            || (await response.Content.ReadAsByteArrayAsync(cancellationToken)).Length > 0;
        var status = (int)response.StatusCode;
        (Observed.TryGetValue(operation, out var answers) ? answers : Observed[operation] = []).Add(new ObservedAnswer(status, hasBody ? mediaType : null));
        return status;
    }

    /// <summary>
    /// The whole check for one service: reads its document, probes every operation (and makes the calls
    /// <paramref name="calls"/> adds, for answers only a prepared record can draw), and returns every route the document
    /// leaves out, every operation no endpoint maps and every answer the document does not declare. A 5xx is named as
    /// what it is: a fault of the service, not something to document.
    /// </summary>
    public static async Task<IReadOnlyList<string>> VerifyAsync(HttpClient client, IServiceProvider services, CancellationToken cancellationToken,
        Func<ApiProbe, Task>? calls = null)
    {
        var document = await ApiDocument.ReadAsync(client, cancellationToken, TokenFor(BrokeringRoles.Ops));
        var probe = new ApiProbe(client, services, document);
        var failures = new List<string>(document.Undocumented(services));
        failures.AddRange(await probe.ProbeEveryOperationAsync(cancellationToken));
        if (calls is not null)
        {
            await calls(probe);
        }

        failures.AddRange(probe.Observed
            .SelectMany(pair => pair.Value.Where(answer => answer.Status >= StatusCodes.Status500InternalServerError && answer.Status != StatusCodes.Status503ServiceUnavailable)
                .Select(answer => $"{pair.Key} answered {answer.Status}: a fault, not an answer to document"))
            .Distinct());
        failures.AddRange(document.Undeclared(probe.Observed));
        return failures;
    }

    /// <summary>Probes every operation of the document; returns the operations the service does not map (none, if all is well).</summary>
    public async Task<IReadOnlyList<string>> ProbeEveryOperationAsync(CancellationToken cancellationToken)
    {
        var endpoints = AuthorizationMatrix.DiscoverEndpoints(services)
            .Where(endpoint => ApiDocument.IsDescribable(endpoint.Endpoint))
            .GroupBy(endpoint => ApiDocument.NameOf(endpoint.Name[..endpoint.Name.IndexOf(' ', StringComparison.Ordinal)], endpoint.Endpoint.RoutePattern.RawText!))
            .ToDictionary(group => group.Key, group => group.First(), StringComparer.Ordinal);
        var unmapped = new List<string>();
        foreach (var (operation, shape) in document.Operations.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            if (!endpoints.TryGetValue(operation, out var endpoint))
            {
                unmapped.Add($"{operation} is in the document but no endpoint maps it");
                continue;
            }

            var method = new HttpMethod(operation[..operation.IndexOf(' ', StringComparison.Ordinal)]);
            var path = Concrete(endpoint.Endpoint.RoutePattern.RawText!);
            var body = shape.HasBody ? "{}" : null;
            var admitted = await AdmittedAsync(endpoint.Endpoint);
            if (admitted is null)
            {
                await CallAsync(operation, null, method, path, body, cancellationToken: cancellationToken);
                continue;
            }

            await CallAsync(operation, null, method, path, body, cancellationToken: cancellationToken);
            if (BrokeringRoles.All.FirstOrDefault(role => !admitted.Contains(role)) is { } refused)
            {
                await CallAsync(operation, TokenFor(refused), method, path, body, cancellationToken: cancellationToken);
            }

            var token = TokenFor(admitted[0]);
            await CallAsync(operation, token, method, path, body, cancellationToken: cancellationToken);
            if (shape.HasBody)
            {
                await CallAsync(operation, token, method, path, "{", cancellationToken: cancellationToken);
                await CallAsync(operation, token, method, path, "{}", "text/plain", cancellationToken);
            }

            foreach (var parameter in shape.QueryParameters)
            {
                await CallAsync(operation, token, method, $"{path}?{parameter}=%7Bnot-a-value%7D", body, cancellationToken: cancellationToken);
            }
        }

        return unmapped;
    }

    /// <summary>The roles an endpoint admits (every role when it needs only a token); null when it admits anonymous callers.</summary>
    private async Task<IReadOnlyList<string>?> AdmittedAsync(RouteEndpoint endpoint)
    {
        if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            return null;
        }

        var policy = await AuthorizationPolicy.CombineAsync(
            services.GetRequiredService<IAuthorizationPolicyProvider>(),
            endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>(),
            endpoint.Metadata.GetOrderedMetadata<AuthorizationPolicy>());
        var roles = policy?.Requirements.OfType<RolesAuthorizationRequirement>().SelectMany(requirement => requirement.AllowedRoles).ToHashSet();
        return roles is null || roles.Count == 0 ? BrokeringRoles.All : [.. BrokeringRoles.All.Where(roles.Contains)];
    }

    // Route parameters get values nobody has: a new GUID where one is expected, a name no record has otherwise, the
    // probe's own tenant for a distributor's "your own" routes.
    private static string Concrete(string route) =>
        "/" + RouteParameter().Replace(route.TrimStart('/'), match =>
            match.Groups["constraint"].Value.StartsWith("guid", StringComparison.Ordinal) || match.Groups["name"].Value.EndsWith("Id", StringComparison.Ordinal)
                ? match.Groups["name"].Value == "distributorId" ? Tenant : Guid.NewGuid().ToString()
                : match.Groups["constraint"].Value.StartsWith("int", StringComparison.Ordinal) || match.Groups["name"].Value == "version"
                    ? "987654"
                    : "no-such-" + match.Groups["name"].Value.TrimStart('*'));

    [GeneratedRegex(@"\{(?<name>[^}:]+)(:(?<constraint>[^}]+))?\}")]
    private static partial Regex RouteParameter();
}
