using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;

namespace Brokering.ServiceDefaults.Telemetry;

/// <summary>
/// Durations of gRPC calls served and made, tagged with the gRPC status, on the meter <c>Brokering.Grpc</c>.
/// ASP.NET Core's HTTP metrics see every gRPC call as HTTP 200 and gRPC for .NET only has event counters,
/// so without these an operator cannot tell a failing dependency from a healthy one.
/// </summary>
public sealed class GrpcCallMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Brokering.Grpc";

    private readonly Histogram<double> serverDuration;
    private readonly Histogram<double> clientDuration;

    public GrpcCallMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        serverDuration = meter.CreateHistogram<double>("rpc.server.call.duration", "s",
            "gRPC calls this service served, by method and gRPC status.");
        clientDuration = meter.CreateHistogram<double>("rpc.client.call.duration", "s",
            "gRPC call attempts this service made to another service (each retry counts), by method and gRPC status.");
    }

    // gRPC gives the server the full method name, /package.Service/Method.
    internal void Served(string method, StatusCode status, TimeSpan elapsed)
    {
        var separator = method.LastIndexOf('/');
        var service = separator > 0 ? method[1..separator] : method;
        var name = separator >= 0 ? method[(separator + 1)..] : method;
        serverDuration.Record(elapsed.TotalSeconds, Tags(service, name, status));
    }

    internal void Called(string service, string method, StatusCode status, TimeSpan elapsed) =>
        clientDuration.Record(elapsed.TotalSeconds, Tags(service, method, status));

    private static TagList Tags(string service, string method, StatusCode status) => new()
    {
        { "rpc.system", "grpc" },
        { "rpc.service", service },
        { "rpc.method", method },
        { "rpc.grpc.status_code", (int)status },
    };
}
