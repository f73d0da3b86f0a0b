using System.Collections.Concurrent;
using System.Net;
using Brokering.EndToEnd.Tests.Tracing.Otlp;
using Brokering.Testing;

namespace Brokering.EndToEnd.Tests.Tracing;

/// <summary>One exported span, as the tests look at it.</summary>
public sealed record ReceivedSpan(
    string Service, string Scope, string TraceId, string SpanId, string ParentSpanId, string Name, SpanKind Kind,
    IReadOnlyDictionary<string, string> Attributes)
{
    public override string ToString() =>
        $"{Service} {Kind} '{Name}' trace={TraceId} span={SpanId} parent={ParentSpanId} [{string.Join(", ", Attributes.Select(a => $"{a.Key}={a.Value}"))}]";
}

/// <summary>
/// An OpenTelemetry collector in miniature: takes OTLP/HTTP protobuf exports on <c>/v1/traces</c> and keeps the
/// spans, so a test can see what the services exported, as a real collector would have received it.
/// </summary>
public sealed class OtlpTraceReceiver : IAsyncDisposable
{
    private readonly HttpListener listener = new();
    private readonly ConcurrentQueue<ReceivedSpan> spans = new();
    private readonly Task loop;

    public OtlpTraceReceiver()
    {
        var port = FreePort.Next();
        Endpoint = new Uri($"http://127.0.0.1:{port}");
        listener.Prefixes.Add($"{Endpoint}");
        listener.Start();
        loop = Task.Run(ReceiveAsync);
    }

    /// <summary>What <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> should say.</summary>
    public Uri Endpoint { get; }

    public IReadOnlyList<ReceivedSpan> Spans => [.. spans];

    public IReadOnlyList<ReceivedSpan> SpansOf(string traceId) => [.. spans.Where(span => span.TraceId == traceId)];

    public async ValueTask DisposeAsync()
    {
        listener.Stop();
        listener.Close();
        try
        {
            await loop;
        }
        catch (ObjectDisposedException)
        {
            // The listener closed under a pending accept.
        }
    }

    private async Task ReceiveAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (HttpListenerException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            using var response = context.Response;
            if (context.Request.HttpMethod != "POST" || context.Request.Url?.AbsolutePath != "/v1/traces")
            {
                response.StatusCode = (int)HttpStatusCode.NotFound;
                continue;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            Keep(ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray()));
            response.StatusCode = (int)HttpStatusCode.OK;
            response.ContentType = "application/x-protobuf";
        }
    }

    private void Keep(ExportTraceServiceRequest export)
    {
        foreach (var resource in export.ResourceSpans)
        {
            var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
            foreach (var scope in resource.ScopeSpans)
            {
                foreach (var span in scope.Spans)
                {
                    spans.Enqueue(new ReceivedSpan(
                        service,
                        scope.Scope?.Name ?? "",
                        Convert.ToHexStringLower(span.TraceId.Span),
                        Convert.ToHexStringLower(span.SpanId.Span),
                        Convert.ToHexStringLower(span.ParentSpanId.Span),
                        span.Name,
                        span.Kind,
                        span.Attributes.ToDictionary(a => a.Key, a => ValueOf(a.Value), StringComparer.Ordinal)));
                }
            }
        }
    }

    private static string ValueOf(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => "",
    };
}
