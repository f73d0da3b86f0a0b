using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Malformed, oversized, truncated, wrongly typed and unicode-heavy payloads on every ordering endpoint,
/// REST and gRPC: refused cleanly, never a 5xx, nothing stored, the service still live. Ordering runs on
/// Kestrel here, REST over HTTP/1.1 and gRPC over HTTP/2 on their own ports, so the real server's limits
/// (a 4 MB body is refused with 413) are part of what is tested.
/// </summary>
public sealed class EndpointFuzzTests(EndpointFuzzTests.KestrelHost host) : IClassFixture<EndpointFuzzTests.KestrelHost>
{
    [Fact]
    public async Task Hostile_payloads_on_every_endpoint_are_refused_as_problems_or_statuses_and_change_nothing()
    {
        using var rest = new HttpClient { BaseAddress = host.Address };
        using var grpc = new HttpClient { BaseAddress = host.GrpcAddress };
        var fuzzer = new EndpointFuzzer(rest, grpc, host.Services)
        {
            Fingerprint = cancellationToken => DatabaseFingerprint.TakeAsync(host.Database, [], cancellationToken),
        };

        var report = await fuzzer.RunAsync(TestContext.Current.CancellationToken);

        TestContext.Current.TestOutputHelper?.WriteLine($"{report.Cases} requests to {report.Endpoints.Count} endpoints, {report.Accepted} accepted.");
        report.Endpoints.ShouldContain("POST /brokering.ordering.v1.Reservations/Submit");
        report.Endpoints.ShouldContain("POST /v1/reservations/");
        report.Failures.ShouldBeEmpty(string.Join("\n", report.Failures));
    }

    [Fact]
    public async Task A_query_parameter_an_endpoint_does_not_declare_is_refused_under_its_name_on_every_endpoint()
    {
        using var client = new HttpClient { BaseAddress = host.Address };
        var failures = await QueryParameterContract.VerifyAsync(client, host.Services, TestContext.Current.CancellationToken);
        failures.ShouldBeEmpty(string.Join("\n", failures));
    }

    /// <summary>Ordering on Kestrel with a database and virtual host of its own.</summary>
    public sealed class KestrelHost() : OrderingHost(kestrel: true);
}
