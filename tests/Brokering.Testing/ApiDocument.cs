using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;

namespace Brokering.Testing;

/// <summary>What one call answered: its status and the media type of its body (null when it had none).</summary>
public sealed record ObservedAnswer(int Status, string? MediaType);

/// <summary>
/// One operation of a service's OpenAPI document: the statuses it declares, each with its media types, and what it
/// takes; <paramref name="ListParameters"/> are the query parameters whose schema is an array (they may repeat).
/// </summary>
public sealed record ApiOperation(
    IReadOnlyDictionary<int, IReadOnlySet<string>> Responses, bool HasBody, IReadOnlyList<string> QueryParameters, IReadOnlySet<string> ListParameters);

/// <summary>
/// A service's OpenAPI document (<c>/openapi/v1.json</c>) as the tests hold it against the service: each operation,
/// named "METHOD /path" as the document names it, with the statuses and media types it declares.
/// <see cref="Undeclared"/> names every answer a call got that the document does not declare for its operation, and
/// <see cref="Undocumented"/> every route the service maps that the document leaves out.
/// </summary>
public sealed partial class ApiDocument
{
    private ApiDocument(IReadOnlyDictionary<string, ApiOperation> operations) => Operations = operations;

    /// <summary>The document's operations by "METHOD /path" (the path without a trailing slash, parameters without constraints).</summary>
    public IReadOnlyDictionary<string, ApiOperation> Operations { get; }

    /// <summary>
    /// Reads the document the service serves, with <paramref name="token"/> (any role's: the document is not public)
    /// or, without one, with whatever token <paramref name="client"/> carries.
    /// </summary>
    public static async Task<ApiDocument> ReadAsync(HttpClient client, CancellationToken cancellationToken, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/openapi/v1.json", UriKind.Relative));
        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        using var served = await client.SendAsync(request, cancellationToken);
        served.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await served.Content.ReadAsStringAsync(cancellationToken));
        var operations = new Dictionary<string, ApiOperation>(StringComparer.Ordinal);
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var responses = new Dictionary<int, IReadOnlySet<string>>();
                foreach (var response in operation.Value.GetProperty("responses").EnumerateObject())
                {
                    responses[int.Parse(response.Name, CultureInfo.InvariantCulture)] = response.Value.TryGetProperty("content", out var content)
                        ? content.EnumerateObject().Select(media => media.Name).ToHashSet(StringComparer.Ordinal)
                        : new HashSet<string>();
                }

                var inQuery = operation.Value.TryGetProperty("parameters", out var parameters)
                    ? [.. parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query")]
                    : new List<JsonElement>();
                var query = inQuery.Select(p => p.GetProperty("name").GetString()!).ToList();
                var lists = inQuery
                    .Where(p => p.TryGetProperty("schema", out var schema) && schema.TryGetProperty("type", out var type) && type.ToString().Contains("array", StringComparison.Ordinal))
                    .Select(p => p.GetProperty("name").GetString()!)
                    .ToHashSet(StringComparer.Ordinal);
                operations[NameOf(operation.Name, path.Name)] = new ApiOperation(responses, operation.Value.TryGetProperty("requestBody", out _), query, lists);
            }
        }

        return new ApiDocument(operations);
    }

    /// <summary>"METHOD /path" as the document names an operation, for a method and a route pattern or document path.</summary>
    public static string NameOf(string method, string route)
    {
        var path = "/" + Constraint().Replace(route.Trim('/'), match => "{" + match.Groups["name"].Value + "}");
        return $"{method.ToUpperInvariant()} {path}";
    }

    /// <summary>
    /// Every answer in <paramref name="observed"/> (by operation) whose status the document does not declare for the
    /// operation, or declares with other media types; with <paramref name="exactly"/> also every declared status no
    /// call got, and every operation of the document not called at all. Empty when the document tells the truth.
    /// </summary>
    public IReadOnlyList<string> Undeclared(IReadOnlyDictionary<string, List<ObservedAnswer>> observed, bool exactly = false)
    {
        var failures = new List<string>();
        foreach (var (operation, answers) in observed.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            if (!Operations.TryGetValue(operation, out var declared))
            {
                failures.Add($"{operation} was called but the document does not describe it");
                continue;
            }

            var statuses = declared.Responses;
            var missing = answers.Select(a => a.Status).Distinct().Where(status => !statuses.ContainsKey(status)).Order().ToList();
            if (missing.Count > 0)
            {
                failures.Add($"{operation} answers {string.Join(", ", missing)}, which the document does not list");
            }

            foreach (var answer in answers.Where(a => a.MediaType is not null && statuses.ContainsKey(a.Status)).Distinct())
            {
                if (!statuses[answer.Status].Contains(answer.MediaType!))
                {
                    failures.Add($"{operation} answers {answer.Status} as {answer.MediaType}; the document says [{string.Join(", ", statuses[answer.Status])}]");
                }
            }

            if (exactly)
            {
                var promised = statuses.Keys.Where(status => answers.All(a => a.Status != status)).Order().ToList();
                if (promised.Count > 0)
                {
                    failures.Add($"{operation} is documented to answer {string.Join(", ", promised)}, which it never did");
                }
            }
        }

        return failures;
    }

    /// <summary>
    /// Every REST route the service maps (read from its endpoint data source, as <see cref="AuthorizationMatrix"/> does)
    /// that the document leaves out: gRPC methods, health checks and scrapers, and routes deliberately excluded from the
    /// description (<c>ExcludeFromDescription</c>) aside.
    /// </summary>
    public IReadOnlyList<string> Undocumented(IServiceProvider services) =>
        [.. AuthorizationMatrix.DiscoverEndpoints(services)
            .Where(endpoint => IsDescribable(endpoint.Endpoint))
            .Select(endpoint => NameOf(endpoint.Name[..endpoint.Name.IndexOf(' ', StringComparison.Ordinal)], endpoint.Endpoint.RoutePattern.RawText!))
            .Distinct()
            .Where(name => !Operations.ContainsKey(name))
            .Select(name => $"{name} is mapped but not in the OpenAPI document")];

    /// <summary>A route handler (not a gRPC method, a health check or a scraper) that has not opted out of the description.</summary>
    internal static bool IsDescribable(RouteEndpoint endpoint) =>
        endpoint.Metadata.GetMetadata<System.Reflection.MethodInfo>() is not null
        && endpoint.Metadata.GetMetadata<Grpc.AspNetCore.Server.GrpcMethodMetadata>() is null
        && endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IExcludeFromDescriptionMetadata>() is not { ExcludeFromDescription: true };

    // "{id:guid}" → "{id}", "{**path}" → "{path}"
    [GeneratedRegex(@"\{\**(?<name>[^}:=?]+)[^}]*\}")]
    private static partial Regex Constraint();
}
