using Brokering.Testing;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Malformed, oversized, truncated, wrongly typed and unicode-heavy payloads on every inventory endpoint,
/// REST and gRPC: refused cleanly, never a 5xx, nothing stored, the service still live; and every endpoint's query
/// string held to what its OpenAPI description declares. The service runs on a database and virtual host of its own,
/// so other tests' writes cannot pass for the fuzzer's.
/// </summary>
public sealed class EndpointFuzzTests
{
    [Fact]
    public Task Hostile_payloads_on_every_endpoint_are_refused_as_problems_or_statuses_and_change_nothing() =>
        OnAnInventoryOfItsOwnAsync("fuzz", async (host, database, cancellationToken) =>
        {
            using var client = host.CreateClient();
            var fuzzer = new EndpointFuzzer(client, client, host.Services)
            {
                Fingerprint = token => DatabaseFingerprint.TakeAsync(database, [], token),
            };

            var report = await fuzzer.RunAsync(cancellationToken);

            TestContext.Current.TestOutputHelper?.WriteLine($"{report.Cases} requests to {report.Endpoints.Count} endpoints, {report.Accepted} accepted.");
            report.Endpoints.ShouldContain("POST /brokering.inventory.v1.StockFeeds/Publish");
            report.Endpoints.ShouldContain("POST /v1/distributors/{id}/stock-feed");
            report.Failures.ShouldBeEmpty(string.Join("\n", report.Failures));
        });

    [Fact]
    public Task A_query_parameter_an_endpoint_does_not_declare_is_refused_under_its_name_on_every_endpoint() =>
        OnAnInventoryOfItsOwnAsync("query", async (host, _, cancellationToken) =>
        {
            using var client = host.CreateClient();

            var failures = await QueryParameterContract.VerifyAsync(client, host.Services, cancellationToken);

            failures.ShouldBeEmpty(string.Join("\n", failures));
        });

    private static async Task OnAnInventoryOfItsOwnAsync(string name, Func<InventoryHost, string, CancellationToken, Task> test)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var database = await TestInfrastructure.CreateDatabaseAsync($"inventory_{name}", cancellationToken);
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync($"inventory-{name}", cancellationToken);
        try
        {
            await using var host = await InventoryHost.StartAsync(database, virtualHost);
            await test(host, database, cancellationToken);
        }
        finally
        {
            await TestInfrastructure.DropDatabaseAsync(database, CancellationToken.None);
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost, CancellationToken.None);
        }
    }
}
