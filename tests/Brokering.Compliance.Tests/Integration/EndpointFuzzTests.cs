using Brokering.Testing;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// Malformed, oversized, truncated, wrongly typed and unicode-heavy payloads on every compliance endpoint,
/// REST and gRPC: refused cleanly, never a 5xx, nothing stored, the service still live.
/// </summary>
public sealed class EndpointFuzzTests(ComplianceServiceFixture fixture) : IClassFixture<ComplianceServiceFixture>
{
    [Fact]
    public async Task Hostile_payloads_on_every_endpoint_are_refused_as_problems_or_statuses_and_change_nothing()
    {
        using var client = fixture.CreateAnonymousClient();
        var fuzzer = new EndpointFuzzer(client, client, fixture.Services)
        {
            Fingerprint = cancellationToken => DatabaseFingerprint.TakeAsync(fixture.DatabaseConnectionString, [], cancellationToken),
        };

        var report = await fuzzer.RunAsync(TestContext.Current.CancellationToken);

        TestContext.Current.TestOutputHelper?.WriteLine($"{report.Cases} requests to {report.Endpoints.Count} endpoints, {report.Accepted} accepted.");
        report.Endpoints.ShouldContain("POST /brokering.compliance.v1.Compliance/Screen");
        report.Endpoints.ShouldContain("POST /v1/rule-sets/");
        report.Failures.ShouldBeEmpty(string.Join("\n", report.Failures));
    }

    [Fact]
    public async Task A_query_parameter_an_endpoint_does_not_declare_is_refused_under_its_name_on_every_endpoint()
    {
        using var client = fixture.CreateAnonymousClient();
        var failures = await QueryParameterContract.VerifyAsync(client, fixture.Services, TestContext.Current.CancellationToken);
        failures.ShouldBeEmpty(string.Join("\n", failures));
    }
}
