using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Brokering.Testing;

/// <summary>
/// Holds every operation a service's OpenAPI document describes to its query parameters: a parameter the operation does
/// not declare is refused with 400 problem+json under its own name (a typo'd filter must not read as "no filter"), one
/// without a name under <c>$</c>; each
/// one it declares, spelled in other letter case, is not refused as unknown (binding ignores case); and one given twice
/// is refused under its name unless its schema is an array (the framework would join the two values with a comma).
/// Endpoints are found the way <see cref="AuthorizationMatrix"/> finds them, so a new one is held to it without anyone
/// listing it.
/// </summary>
public static class QueryParameterContract
{
    /// <summary>The parameter no operation has.</summary>
    public const string Unknown = "noSuchFilter";

    /// <summary>
    /// Every breach, empty when each described operation keeps the contract. Calls are made as a person with every user
    /// role, or as a service where a person is not admitted, so the request reaches the endpoint.
    /// </summary>
    public static async Task<IReadOnlyList<string>> VerifyAsync(HttpClient client, IServiceProvider services, CancellationToken cancellationToken)
    {
        var token = EndpointFuzzer.EveryUserRoleToken();
        var serviceToken = TestTokens.Service();
        var document = await ApiDocument.ReadAsync(client, cancellationToken, token);
        var failures = new List<string>();
        var checkedOperations = 0;
        foreach (var (name, endpoint) in AuthorizationMatrix.DiscoverEndpoints(services).Where(e => ApiDocument.IsDescribable(e.Endpoint)))
        {
            var method = name[..name.IndexOf(' ', StringComparison.Ordinal)];
            if (!document.Operations.TryGetValue(ApiDocument.NameOf(method, endpoint.RoutePattern.RawText!), out var operation))
            {
                continue;
            }

            checkedOperations++;
            var path = EndpointFuzzer.WellFormedPath(endpoint.RoutePattern);
            var (status, errors) = await CallAsync(client, method, $"{path}?{Unknown}=1", token, serviceToken, cancellationToken);
            if (status != HttpStatusCode.BadRequest || errors is null || !errors.ContainsKey(Unknown))
            {
                failures.Add($"{name}: ?{Unknown}=1 answered {(int)status} with errors [{string.Join(", ", errors?.Keys ?? [])}], not 400 under {Unknown}.");
            }

            // A parameter without a name has no path of its own: it is reported under the root, as a nameless body error is.
            var (namelessStatus, namelessErrors) = await CallAsync(client, method, $"{path}?=1", token, serviceToken, cancellationToken);
            if (namelessStatus != HttpStatusCode.BadRequest || namelessErrors is null || !namelessErrors.Keys.SequenceEqual(["$"]))
            {
                failures.Add($"{name}: ?=1 answered {(int)namelessStatus} with errors [{string.Join(", ", namelessErrors?.Keys ?? [])}], not 400 under $.");
            }

            foreach (var declared in operation.QueryParameters)
            {
                var otherCase = declared.ToUpperInvariant();
                var (_, declaredErrors) = await CallAsync(client, method, $"{path}?{otherCase}=", token, serviceToken, cancellationToken);
                if (declaredErrors is not null && declaredErrors.TryGetValue(otherCase, out var messages) && messages.Any(m => m.StartsWith("Not a parameter", StringComparison.Ordinal)))
                {
                    failures.Add($"{name}: its declared parameter {declared}, spelled {otherCase}, was refused as unknown.");
                }

                // Given twice: refused when it takes one value (the framework would join the two), let through when it takes a list.
                var (twiceStatus, twiceErrors) = await CallAsync(client, method, $"{path}?{declared}=a&{declared}=b", token, serviceToken, cancellationToken);
                var refusedAsRepeated = twiceErrors is not null && twiceErrors.TryGetValue(declared, out var twiceMessages)
                    && twiceMessages.Any(m => m.StartsWith("Given 2 times", StringComparison.Ordinal));
                if (operation.ListParameters.Contains(declared))
                {
                    if (refusedAsRepeated)
                    {
                        failures.Add($"{name}: its list parameter {declared}, given twice, was refused as repeated.");
                    }
                }
                else if (twiceStatus != HttpStatusCode.BadRequest || !refusedAsRepeated)
                {
                    failures.Add($"{name}: its parameter {declared}, given twice, answered {(int)twiceStatus} with errors [{string.Join(", ", twiceErrors?.Keys ?? [])}], not 400 under {declared}.");
                }
            }
        }

        if (checkedOperations == 0)
        {
            failures.Add("No described operation was found to check.");
        }

        return failures;
    }

    private static async Task<(HttpStatusCode Status, IReadOnlyDictionary<string, string[]>? Errors)> CallAsync(
        HttpClient client, string method, string uri, string token, string serviceToken, CancellationToken cancellationToken)
    {
        var response = await SendAsync(client, method, uri, token, cancellationToken);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            response.Dispose();
            response = await SendAsync(client, method, uri, serviceToken, cancellationToken);
        }

        using (response)
        {
            if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                return (response.StatusCode, null);
            }

            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return (response.StatusCode, problem.RootElement.TryGetProperty("errors", out var errors)
                ? errors.EnumerateObject().ToDictionary(error => error.Name, error => error.Value.EnumerateArray().Select(m => m.GetString() ?? string.Empty).ToArray(), StringComparer.Ordinal)
                : new Dictionary<string, string[]>(StringComparer.Ordinal));
        }
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string uri, string token, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(uri, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }
}
