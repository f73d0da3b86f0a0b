using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.EndToEnd.Tests.Tracing.Otlp;
using Shouldly;
using Brokering.Testing;

namespace Brokering.EndToEnd.Tests.Tracing;

/// <summary>
/// One trace per reservation: the buyer's HTTP request, ordering's saga and activities on RabbitMQ, and
/// ordering's gRPC calls into compliance and inventory all land in the trace the buyer's client started,
/// across three processes, as exported over OTLP.
/// </summary>
public sealed class TraceTests(TracedSystem traced) : IClassFixture<TracedSystem>
{
    private const string Sku = "NVIDIA-H100-PCIE-80GB";
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task A_submission_traced_by_the_buyer_is_one_trace_through_http_the_saga_on_rabbitmq_and_grpc_in_all_three_services()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var system = traced.System;
        await system.PublishSnapshotAsync("arrow", 1, Sku, "HKG-1", 50, 25000m, cancellationToken);

        // The buyer's own tracing: a W3C traceparent, sampled.
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var clientSpanId = ActivitySpanId.CreateRandom().ToHexString();
        var driver = system.Scramble();
        using var buyer = system.Buyer("traced-buyer");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations")
        {
            Content = JsonContent.Create(ScrambleDriver.Reservation("PO-TRACE-1", "Acme Cloud Inc.", "AllOrNone", "Manual",
                [new Line(Sku, 10, 26000m)], destination: "US", endUserCountry: "US")),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{clientSpanId}-01");
        using var submitted = await buyer.SendAsync(request, cancellationToken);
        var text = await submitted.Content.ReadAsStringAsync(cancellationToken);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        using var accepted = JsonDocument.Parse(text);
        var id = accepted.RootElement.GetProperty("id").GetGuid();

        var held = await driver.WaitUntilRestingAsync("traced-buyer", id, Patience, cancellationToken);
        ReservationView.Status(held).ShouldBe("Held", held.ToString());

        var expected = new (string What, Func<ReceivedSpan, bool> Match)[]
        {
            ("ordering serves POST /v1/reservations as a child of the buyer's span",
                span => IsOrdering(span) && span.Kind == SpanKind.Server && span.Name.Contains("/v1/reservations", StringComparison.Ordinal)
                    && span.ParentSpanId == clientSpanId),
            ("ordering's saga consumes ReservationSubmitted from RabbitMQ",
                span => IsOrdering(span) && span.Kind == SpanKind.Consumer && Mentions(span, "ReservationSubmitted")),
            ("ordering calls compliance's Screen over gRPC",
                span => IsOrdering(span) && span.Kind == SpanKind.Client && span.Name.Contains("Compliance/Screen", StringComparison.Ordinal)),
            ("compliance serves Screen",
                span => span.Service == "Brokering.Compliance" && span.Kind == SpanKind.Server && span.Name.Contains("Compliance/Screen", StringComparison.Ordinal)),
            ("ordering calls inventory's PlaceHolds over gRPC",
                span => IsOrdering(span) && span.Kind == SpanKind.Client && span.Name.Contains("HoldsLedger/PlaceHolds", StringComparison.Ordinal)),
            ("inventory serves PlaceHolds",
                span => span.Service == "Brokering.Inventory" && span.Kind == SpanKind.Server && span.Name.Contains("HoldsLedger/PlaceHolds", StringComparison.Ordinal)),
            ("inventory publishes the placement's HoldsPlaced in the caller's trace",
                span => span.Service == "Brokering.Inventory" && span.Name == "publish HoldsPlaced"),
        };

        // Spans are exported in batches after they end (a parent after its children): wait for all of them, however
        // slow the machine. Every span of the trace must hang off another span of it, or off the buyer's: no orphans.
        var (missing, orphans) = await Eventually.Latest(() =>
        {
            var trace = traced.Traces.SpansOf(traceId);
            var known = trace.Select(span => span.SpanId).Append(clientSpanId).ToHashSet(StringComparer.Ordinal);
            return Task.FromResult<(List<string> Missing, List<ReceivedSpan> Orphans)>(
                ([.. expected.Where(e => !trace.Any(e.Match)).Select(e => e.What)], [.. trace.Where(span => !known.Contains(span.ParentSpanId))]));
        }, found => found.Missing.Count == 0 && found.Orphans.Count == 0, Patience, TimeSpan.FromMilliseconds(500), cancellationToken: cancellationToken);

        missing.ShouldBeEmpty(Explain(traceId));
        orphans.ShouldBeEmpty(Explain(traceId));
    }

    [Fact]
    public async Task Grpc_calls_are_counted_by_status_on_both_sides_and_consumes_by_MassTransit_on_the_metrics_endpoint()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var system = traced.System;

        // A reservation that needs compliance (Screen) and inventory (GetOffers): ordering calls both over gRPC.
        var driver = system.Scramble();
        var id = await driver.SubmitAcceptedAsync("metered-buyer", ScrambleDriver.Reservation("PO-METER-1", "Acme Cloud Inc.", "AllOrNone", "Manual",
            [new Line(Sku, 1, 1m)], destination: "US", endUserCountry: "US"), cancellationToken);
        await driver.WaitUntilRestingAsync("metered-buyer", id, Patience, cancellationToken);

        // A refused call: NOT_FOUND (5) from ordering's own gRPC API.
        using (var channel = Brokering.Testing.Installation.BrokeringSystem.GrpcChannelTo(system.Ordering))
        {
            var reservations = new Brokering.Contracts.Grpc.Ordering.Reservations.ReservationsClient(channel);
            var refused = await Should.ThrowAsync<Grpc.Core.RpcException>(() => reservations.GetAsync(
                new Brokering.Contracts.Grpc.Ordering.GetReservationRequest { Id = Guid.NewGuid().ToString() },
                Brokering.Testing.Installation.BrokeringSystem.BuyerMetadata("metered-buyer"), cancellationToken: cancellationToken).ResponseAsync);
            refused.StatusCode.ShouldBe(Grpc.Core.StatusCode.NotFound);
        }

        const string ServerCalls = "rpc_server_call_duration_seconds_count{";
        const string ClientCalls = "rpc_client_call_duration_seconds_count{";
        await WaitForSeriesAsync(system.Ordering, ClientCalls, ["rpc_method=\"Screen\"", "rpc_grpc_status_code=\"0\""], cancellationToken);
        await WaitForSeriesAsync(system.Ordering, ClientCalls, ["rpc_method=\"GetOffers\"", "rpc_grpc_status_code=\"0\""], cancellationToken);
        await WaitForSeriesAsync(system.Compliance, ServerCalls,
            ["rpc_service=\"brokering.compliance.v1.Compliance\"", "rpc_method=\"Screen\"", "rpc_grpc_status_code=\"0\""], cancellationToken);
        await WaitForSeriesAsync(system.Inventory, ServerCalls, ["rpc_method=\"GetOffers\"", "rpc_grpc_status_code=\"0\""], cancellationToken);
        await WaitForSeriesAsync(system.Ordering, ServerCalls, ["rpc_method=\"Get\"", "rpc_grpc_status_code=\"5\""], cancellationToken);

        // MassTransit's meter: saga events per message type (the saga takes its steps within the ReservationSubmitted it
        // consumes), consumes per consumer type, and their faults as messaging_masstransit_*_errors_total.
        await WaitForSeriesAsync(system.Ordering, "messaging_masstransit_saga_ea_total{",
            ["messaging_masstransit_consumer_type=\"ReservationState\"", "messaging_masstransit_message_type=\"ReservationSubmitted\""], cancellationToken);
    }

    /// <summary>Scrapes the service's /metrics until a sample of <paramref name="metric"/> carries every label given.</summary>
    private static async Task WaitForSeriesAsync(
        Brokering.Testing.Installation.ServiceProcess service, string metric, string[] labels, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = service.Rest, Timeout = TimeSpan.FromSeconds(30) };
        static bool HasSeries(string text, string metric, string[] labels) =>
            text.Split('\n').Any(line => line.StartsWith(metric, StringComparison.Ordinal) && labels.All(label => line.Contains(label, StringComparison.Ordinal)));
        var text = await Eventually.Latest(() => http.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken),
            text => HasSeries(text, metric, labels), Patience, TimeSpan.FromSeconds(1), cancellationToken: cancellationToken);
        if (HasSeries(text, metric, labels))
        {
            return;
        }

        var family = metric.Split('_')[0];
        var near = text.Split('\n').Where(line => line.StartsWith(family, StringComparison.Ordinal)).Take(60);
        throw new TimeoutException($"{service.Name}'s /metrics has no {metric} with {string.Join(", ", labels)}; it has:\n{string.Join('\n', near)}");
    }

    private static bool IsOrdering(ReceivedSpan span) => span.Service == "Brokering.Ordering";

    private static bool Mentions(ReceivedSpan span, string messageType) =>
        span.Name.Contains(messageType, StringComparison.Ordinal)
        || span.Attributes.Values.Any(value => value.Contains(messageType, StringComparison.Ordinal));

    private string Explain(string traceId)
    {
        var all = traced.Traces.Spans;
        var others = all.Where(s => s.TraceId != traceId && s.Scope != "Npgsql").ToList();
        return $"Spans of trace {traceId}:\n{string.Join('\n', all.Where(s => s.TraceId == traceId))}\n\n"
            + $"Other spans received, database spans left out ({others.Count}), first 60:\n{string.Join('\n', others.Take(60))}";
    }
}
