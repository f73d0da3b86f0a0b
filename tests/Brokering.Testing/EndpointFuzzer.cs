using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Brokering.ServiceDefaults.Security;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Brokering.Testing;

/// <summary>
/// Sends malformed, oversized, truncated, wrongly typed and unicode-heavy payloads to every endpoint a
/// service maps (found the way <see cref="AuthorizationMatrix"/> finds them, so a new endpoint is fuzzed
/// without anyone listing it), with a token every endpoint admits, so the payload reaches the handler.
/// Each answer must be a well-formed refusal or an acceptance: never a 5xx, a REST error always
/// problem+json with status and title, a gRPC error always a status other than UNKNOWN with a detail
/// (INTERNAL only for gRPC's own framing refusals). A refused request must leave the database as it was;
/// the service must still be live afterwards. Deterministic: the seed fixes every payload.
/// </summary>
public sealed class EndpointFuzzer(HttpClient rest, HttpClient grpc, IServiceProvider services)
{
    /// <summary>The tenant of the fuzzing token; "your own" routes get it as their id.</summary>
    public const string Tenant = "fuzz";

    // gRPC's own refusals of a frame it cannot read: INTERNAL by the gRPC spec, before any service code runs.
    private static readonly HashSet<string> FramingRefusals = new(StringComparer.Ordinal)
    {
        "Incomplete message.",
        "Additional data after the message received.",
        "Request did not include grpc-encoding value with compressed message.",
        "Incoming message cancelled.",
    };

    // Route values that are only hostile as raw bytes of a URI: overlong and invalid UTF-8, NUL, traversal, double escaping.
    private static readonly string[] RawEncodings = ["%C0%AF", "%FF%FE", "%E2%80%AE", "%2e%2e%2f%2e%2e%2fappsettings.json", "%252e%252e", "a/../../b"];

    private const string NulInside = "NUL\u0000inside";

    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Fixes every payload of a run.</summary>
    public int Seed { get; init; } = 8;

    /// <summary>How many requests each REST endpoint gets.</summary>
    public int CasesPerRestEndpoint { get; init; } = 10;

    /// <summary>How many well-encoded messages of hostile values each gRPC method gets (besides the broken ones).</summary>
    public int HostileMessagesPerGrpcMethod { get; init; } = 4;

    /// <summary>A person's token with every user role, so every endpoint open to people admits the request.</summary>
    public string Token { get; init; } = EveryUserRoleToken();

    /// <summary>A service's token, for the endpoints only a service may call (no token carries both identities).</summary>
    public string ServiceToken { get; init; } = TestTokens.Service();

    /// <summary>Takes a fingerprint of the service's state (<see cref="DatabaseFingerprint"/>); none: state is not checked.</summary>
    public Func<CancellationToken, Task<IReadOnlyDictionary<string, string>>>? Fingerprint { get; init; }

    /// <summary>Fuzzes every endpoint and returns what was sent and every failure.</summary>
    public async Task<FuzzReport> RunAsync(CancellationToken cancellationToken)
    {
        var endpoints = AuthorizationMatrix.DiscoverEndpoints(services);
        var probes = endpoints.SelectMany(endpoint => endpoint.Endpoint.Metadata.GetMetadata<GrpcMethodMetadata>() is { } method
            ? GrpcProbes(endpoint.Name, endpoint.Endpoint, method)
            : RestProbes(endpoint.Name, endpoint.Endpoint)).ToList();

        var failures = new List<string>();
        var accepted = 0;
        var state = Fingerprint is null ? null : await Fingerprint(cancellationToken);
        foreach (var probe in probes)
        {
            var outcome = await SendAsync(probe, cancellationToken);
            if (outcome.Failure is not null)
            {
                failures.Add($"{probe.Endpoint} with {probe.What}: {outcome.Failure}");
            }

            accepted += outcome.Accepted ? 1 : 0;
            if (Fingerprint is not null)
            {
                var now = await Fingerprint(cancellationToken);
                var changed = DatabaseFingerprint.Changed(state!, now);
                if (!outcome.Accepted && changed.Count > 0)
                {
                    failures.Add($"{probe.Endpoint} with {probe.What}: refused, yet changed {string.Join(", ", changed)}.");
                }

                state = now;
            }
        }

        using var live = await rest.GetAsync(new Uri("/health/live", UriKind.Relative), cancellationToken);
        if (live.StatusCode != HttpStatusCode.OK)
        {
            failures.Add($"After the run /health/live answered {(int)live.StatusCode}.");
        }

        return new FuzzReport([.. endpoints.Select(endpoint => endpoint.Name)], probes.Count, accepted, failures);
    }

    private sealed record Probe(string Endpoint, string What, bool Grpc, Func<HttpRequestMessage> Request);

    private sealed record Outcome(bool Accepted, string? Failure);

    // ------------------------------------------------------------------ REST

    private IEnumerable<Probe> RestProbes(string name, RouteEndpoint endpoint)
    {
        var random = new Random(Seed ^ StableHash(name));
        var method = name[..name.IndexOf(' ', StringComparison.Ordinal)];
        var (bodyType, query, headers) = Parameters(endpoint);
        var json = services.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        var hasBody = method is "POST" or "PUT" or "PATCH";
        for (var i = 0; i < CasesPerRestEndpoint; i++)
        {
            var hostileRoute = i % 2 == 1;
            var path = Path(endpoint.RoutePattern, random, hostileRoute);
            var queryValues = i == 0 ? [] : query.Where(_ => random.Next(2) == 0).Select(parameter => (parameter, Escape(FuzzPayloads.HostileValue(random)))).ToList();
            var headerValues = headers.Select(header => (header, random.Next(3) == 0 ? null : FuzzPayloads.HostileHeader(random))).ToList();
            var (what, body) = hasBody
                ? FuzzPayloads.Damage(bodyType is null ? null : FuzzPayloads.Skeleton(bodyType, json, random, hostility: 0.5), random)
                : ("no body", []);
            var contentType = random.Next(8) switch
            {
                0 => "text/plain",
                1 => null,
                _ => "application/json",
            };
            var uri = path + (queryValues.Count == 0 ? string.Empty : "?" + string.Join('&', queryValues.Select(q => $"{q.parameter}={q.Item2}")));
            var description = $"{what}{(hostileRoute ? ", hostile route values" : string.Empty)}{(queryValues.Count > 0 ? ", hostile query" : string.Empty)}"
                + $"{(hasBody ? $", content type {contentType ?? "none"}" : string.Empty)} ({uri.Length} chars of URI)";
            yield return new Probe(name, description, Grpc: false, () =>
            {
                var request = new HttpRequestMessage(new HttpMethod(method), new Uri(uri, UriKind.Relative));
                if (hasBody)
                {
                    request.Content = new ByteArrayContent(body);
                    if (contentType is not null)
                    {
                        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
                    }
                }

                foreach (var (header, value) in headerValues.Where(h => h.Item2 is not null))
                {
                    request.Headers.TryAddWithoutValidation(header, value);
                }

                return request;
            });
        }

        // A NUL in every text a caller controls, which PostgreSQL text cannot store: each query parameter on its own, and
        // every string of a well-formed body at once. Drawn at random above, it reached a few parameters of a run only.
        foreach (var parameter in query)
        {
            var uri = $"{Path(endpoint.RoutePattern, random, hostile: false)}?{parameter}={Escape(NulInside)}";
            yield return new Probe(name, $"a NUL in query parameter {parameter}", Grpc: false, () => new HttpRequestMessage(new HttpMethod(method), new Uri(uri, UriKind.Relative)));
        }

        if (hasBody && bodyType is not null && FuzzPayloads.Skeleton(bodyType, json, random, hostility: 0) is { } wellFormed)
        {
            var nulBody = Encoding.UTF8.GetBytes(wellFormed.ToJsonString().Replace("\"fuzz\"", "\"NUL\\u0000inside\"", StringComparison.Ordinal));
            var path = Path(endpoint.RoutePattern, random, hostile: false);
            yield return new Probe(name, "a NUL in every string of the body", Grpc: false, () => new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
            {
                Content = new ByteArrayContent(nulBody) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            });
        }

        if (hasBody && bodyType is not null && FuzzPayloads.Skeleton(bodyType, json, random, hostility: 0) is { } labelled)
        {
            // A well-formed body under each kind of charset label: one no encoding has, one quoted (as HTTP allows), a
            // Windows code page, one the bytes are not in. Any of them may be refused, none may fail the request.
            var bytes = Encoding.UTF8.GetBytes(labelled.ToJsonString());
            var path = Path(endpoint.RoutePattern, random, hostile: false);
            foreach (var charset in (string[])["bogus", "\"utf-8\"", "windows-1252", "utf-16", "\"\""])
            {
                yield return new Probe(name, $"a well-formed body labelled charset={charset}", Grpc: false, () =>
                {
                    var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)) { Content = new ByteArrayContent(bytes) };
                    request.Content.Headers.TryAddWithoutValidation("Content-Type", $"application/json; charset={charset}");
                    return request;
                });
            }
        }

        if (hasBody)
        {
            // Over the 4 MB body limit: Kestrel refuses it with 413; an in-memory host reads it, and it must still not 5xx.
            // The client waits for "100 Continue" as a careful client does, so a refusal is heard before the upload.
            var oversized = Encoding.UTF8.GetBytes("{\"x\":\"" + new string('x', 5 * 1024 * 1024) + "\"}");
            var path = Path(endpoint.RoutePattern, random, hostile: false);
            yield return new Probe(name, "a 5 MB body", Grpc: false, () => new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
            {
                Content = new ByteArrayContent(oversized) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
                Headers = { ExpectContinue = true },
            });
        }
    }

    // What a minimal API handler binds: its body type, query parameters and headers (route values come from the pattern).
    private (Type? Body, List<string> Query, List<string> Headers) Parameters(RouteEndpoint endpoint)
    {
        var handler = endpoint.Metadata.OfType<MethodInfo>().FirstOrDefault();
        if (handler is null)
        {
            return (null, [], []);
        }

        var isService = services.GetService<IServiceProviderIsService>();
        Type? body = null;
        List<string> query = [];
        List<string> headers = [];
        foreach (var parameter in handler.GetParameters())
        {
            var type = Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType;
            if (parameter.GetCustomAttribute<FromHeaderAttribute>() is { } header)
            {
                headers.Add(header.Name ?? parameter.Name!);
            }
            else if (parameter.GetCustomAttribute<FromQueryAttribute>() is { } fromQuery)
            {
                query.Add(fromQuery.Name ?? parameter.Name!);
            }
            else if (parameter.GetCustomAttribute<FromBodyAttribute>() is not null)
            {
                body = parameter.ParameterType;
            }
            else if (parameter.GetCustomAttribute<FromServicesAttribute>() is not null || isService?.IsService(parameter.ParameterType) == true
                || typeof(HttpContext).IsAssignableFrom(type) || type == typeof(CancellationToken) || type == typeof(System.Security.Claims.ClaimsPrincipal)
                || type == typeof(HttpRequest) || type == typeof(HttpResponse) || parameter.GetCustomAttribute<FromRouteAttribute>() is not null
                || endpoint.RoutePattern.GetParameter(parameter.Name!) is not null)
            {
                continue;
            }
            else if (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(Guid)
                || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), type.MakeByRefType()]) is not null)
            {
                query.Add(parameter.Name!);
            }
            else
            {
                body = parameter.ParameterType;
            }
        }

        return (body, query, headers);
    }

    /// <summary>A token of <see cref="Tenant"/> with every user role, which every endpoint open to people admits.</summary>
    internal static string EveryUserRoleToken() => TestTokens.For("fuzz", Tenant, [.. BrokeringRoles.All.Where(role => role != BrokeringRoles.Service)]);

    /// <summary>A path <paramref name="pattern"/> routes to: a GUID where it is constrained to one, the tenant elsewhere.</summary>
    internal static string WellFormedPath(RoutePattern pattern) => Path(pattern, random: null, hostile: false);

    private static string Path(RoutePattern pattern, Random? random, bool hostile)
    {
        var segments = pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternSeparatorPart separator => separator.Content,
            RoutePatternParameterPart parameter when hostile => random!.Next(4) == 0
                ? RawEncodings[random.Next(RawEncodings.Length)]
                // NUL in a path is refused by the HTTP server itself (Kestrel answers a bare 400 before the app runs, the
                // in-memory server throws): not the service's to answer, so route values carry none.
                : Escape(FuzzPayloads.HostileValue(random).Replace("\0", string.Empty, StringComparison.Ordinal)),
            RoutePatternParameterPart parameter => parameter.ParameterPolicies.Any(policy => policy.Content == "guid") ? Guid.NewGuid().ToString() : Tenant,
            _ => string.Empty,
        })));
        return "/" + string.Join('/', segments);
    }

    // Escaped, and short enough that a real server's request-line limit (8 KB) is not what refuses the request.
    private static string Escape(string value) => Uri.EscapeDataString(value.Length > 120 ? value[..120] : value);

    // ------------------------------------------------------------------ gRPC

    private IEnumerable<Probe> GrpcProbes(string name, RouteEndpoint endpoint, GrpcMethodMetadata metadata)
    {
        var random = new Random(Seed ^ StableHash(name));
        var path = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
        var requestType = metadata.Method.GetType().GetGenericArguments()[0];
        var descriptor = (MessageDescriptor)requestType.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
        var streamingRequest = metadata.Method.Type is MethodType.ClientStreaming or MethodType.DuplexStreaming;
        var valid = FuzzPayloads.Message(descriptor, random).ToByteArray();

        Probe Probe(string what, byte[] body) => new(name, what, Grpc: true, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/grpc") } },
            };
            request.Headers.TE.ParseAdd("trailers");
            return request;
        });

        yield return Probe("an empty message", FuzzPayloads.Frame([]));
        for (var i = 0; i < HostileMessagesPerGrpcMethod; i++)
        {
            yield return Probe("a message of hostile values", FuzzPayloads.Frame(FuzzPayloads.Message(descriptor, random).ToByteArray()));
        }

        if (FuzzPayloads.WithUnreadableTimestamps(descriptor, random) is { } unreadable)
        {
            yield return Probe("every timestamp past what a clock reads", FuzzPayloads.Frame(unreadable.ToByteArray()));
        }

        foreach (var (what, bytes) in FuzzPayloads.BrokenMessages(descriptor, random))
        {
            yield return Probe(what, FuzzPayloads.Frame(bytes));
        }

        yield return Probe("no message at all", []);
        yield return Probe("a frame header cut short", [0, 0, 0]);
        yield return Probe("a frame shorter than its declared length", FuzzPayloads.Frame(valid, declaredLength: valid.Length + 100));
        yield return Probe("a declared length of 2 GiB", FuzzPayloads.Frame(valid, declaredLength: int.MaxValue));
        yield return Probe("a compressed flag without an encoding", FuzzPayloads.Frame(valid, compressed: 1));
        yield return Probe("a 5 MB message", FuzzPayloads.Frame(new byte[5 * 1024 * 1024]));
        yield return streamingRequest
            ? Probe("a stream of hostile messages", [.. Enumerable.Range(0, 5).SelectMany(_ => FuzzPayloads.Frame(FuzzPayloads.Message(descriptor, random).ToByteArray()))])
            : Probe("two messages on a single-message call", [.. FuzzPayloads.Frame(valid), .. FuzzPayloads.Frame(valid)]);
    }

    // ------------------------------------------------------------------ sending and judging

    private async Task<Outcome> SendAsync(Probe probe, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(AnswerTimeout);
        try
        {
            var token = Token;
            for (var attempt = 0; ; attempt++)
            {
                using var request = probe.Request();
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                // Headers first: streaming endpoints (server-sent events, gRPC watches) never end their body.
                using var response = await (probe.Grpc ? grpc : rest).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                if (response.StatusCode == HttpStatusCode.Forbidden && token == Token)
                {
                    // A service-only endpoint: the payload must reach its handler too, so send it as a service.
                    token = ServiceToken;
                    continue;
                }

                if (response.StatusCode == HttpStatusCode.TooManyRequests && attempt < 5)
                {
                    // The tenant's rate limit, not the payload, refused this one: wait as told and send it again.
                    await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1), timeout.Token);
                    continue;
                }

                return probe.Grpc ? await JudgeGrpcAsync(probe.Endpoint, response, timeout.Token) : await JudgeRestAsync(response, timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Outcome(false, $"no answer within {AnswerTimeout.TotalMinutes} minutes.");
        }
        catch (HttpRequestException exception)
        {
            return new Outcome(false, $"the connection failed ({exception.Message}).");
        }
    }

    private static async Task<Outcome> JudgeRestAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (status < 400)
        {
            return new Outcome(status < 300, null);
        }

        if (status >= 500)
        {
            return new Outcome(false, $"{status}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        if (status == 401)
        {
            return new Outcome(false, "401: the fuzzing token was refused, so the payload never reached the handler.");
        }

        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return new Outcome(false, $"{status} as {response.Content.Headers.ContentType?.MediaType ?? "no content type"}, not application/problem+json.");
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (text.Contains("   at ", StringComparison.Ordinal))
        {
            return new Outcome(false, $"{status} with a stack trace: {text}");
        }

        try
        {
            using var problem = JsonDocument.Parse(text);
            var root = problem.RootElement;
            return root.TryGetProperty("status", out var code) && code.TryGetInt32(out var value) && value == status
                && root.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String && title.GetString()!.Length > 0
                ? new Outcome(false, null)
                : new Outcome(false, $"{status} problem without a matching status and a title: {text}");
        }
        catch (JsonException)
        {
            return new Outcome(false, $"{status} problem that is not JSON: {text}");
        }
    }

    private static async Task<Outcome> JudgeGrpcAsync(string endpoint, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return new Outcome(false, $"HTTP {(int)response.StatusCode} instead of a gRPC status.");
        }

        var (status, detail) = GrpcStatus(response.Headers);
        if (status is null)
        {
            // Not a trailers-only answer: a message or the trailers follow. A message under way means the call was taken.
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var header = new byte[5];
            var read = await body.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken);
            if (read == header.Length)
            {
                return new Outcome(true, null);
            }

            if (read > 0)
            {
                return new Outcome(false, $"a response frame cut off after {read} bytes.");
            }

            (status, detail) = GrpcStatus(response.TrailingHeaders);
        }

        return status switch
        {
            null => new Outcome(false, "no grpc-status in headers or trailers."),
            StatusCode.OK => new Outcome(true, null),
            StatusCode.Unknown => new Outcome(false, $"UNKNOWN ({detail}): the service did not decide what went wrong."),
            StatusCode.Unauthenticated => new Outcome(false, "UNAUTHENTICATED: the fuzzing token was refused, so the payload never reached the handler."),
            StatusCode.Internal when !FramingRefusals.Contains(detail ?? string.Empty) => new Outcome(false, $"INTERNAL ({detail}): the service failed on the caller's input."),
            // The standard health protocol answers an unknown service name with a bare NOT_FOUND; nothing more is owed.
            StatusCode.NotFound when endpoint.StartsWith("POST /grpc.health.v1.Health/", StringComparison.Ordinal) => new Outcome(false, null),
            _ when string.IsNullOrWhiteSpace(detail) => new Outcome(false, $"{status} without a detail."),
            _ when detail!.Contains("   at ", StringComparison.Ordinal) => new Outcome(false, $"{status} with a stack trace: {detail}"),
            _ => new Outcome(false, null),
        };
    }

    private static (StatusCode? Status, string? Detail) GrpcStatus(HttpHeaders headers) =>
        headers.TryGetValues("grpc-status", out var statuses) && int.TryParse(statuses.First(), out var code)
            ? ((StatusCode)code, headers.TryGetValues("grpc-message", out var messages) ? Uri.UnescapeDataString(messages.First()) : null)
            : (null, null);

    // string.GetHashCode differs per process; a seed must mean the same payloads every run.
    private static int StableHash(string text)
    {
        var hash = 2166136261;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619;
        }

        return (int)hash;
    }
}

/// <summary>What a fuzzing run covered and what went wrong.</summary>
/// <param name="Endpoints">Every endpoint fuzzed, as "METHOD /route/pattern".</param>
/// <param name="Cases">Requests sent.</param>
/// <param name="Accepted">Requests the service took (2xx, gRPC OK or a first streamed message).</param>
/// <param name="Failures">Every violation, one line each; empty when all went well.</param>
public sealed record FuzzReport(IReadOnlyList<string> Endpoints, int Cases, int Accepted, IReadOnlyList<string> Failures);
