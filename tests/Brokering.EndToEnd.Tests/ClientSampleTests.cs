using System.Diagnostics;
using System.Reflection;
using Brokering.Client;
using Brokering.Testing;
using Brokering.Testing.Installation;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>
/// The client package's sample buyer integration (<c>clients/Brokering.Client.Sample</c>), run as a process the way the
/// README tells a buyer to run it, against the three services, over REST and over gRPC; the distributor's side through
/// <see cref="DistributorClient"/>. The client, the sample and the README's command cannot drift from the services.
/// </summary>
public sealed class ClientSampleTests(SystemUnderTest system) : IClassFixture<SystemUnderTest>
{
    private const string Sku = "NVIDIA-H20";

    [Theory]
    [InlineData("rest")]
    [InlineData("grpc")]
    public async Task The_sample_integration_submits_follows_the_feed_confirms_once_held_and_ends_Confirmed_and_the_distributor_sees_the_order(string transport)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var inventoryHttp = new HttpClient { BaseAddress = system.Inventory.Rest };
        var distributor = new DistributorClient(inventoryHttp, "arrow", _ => ValueTask.FromResult(TestTokens.Distributor("arrow")));
        var published = await distributor.PublishSnapshotAsync(system.NextFeedSequence("arrow"),
            [new StockLevel(Sku, "HKG-1", QuantityOnHand: 50, UnitPrice: 12000m, Currency: "USD")], cancellationToken);
        published.Outcome.ShouldBe(StockUpdateOutcome.Applied);
        var buyerId = $"sample-{transport}";
        var reference = $"PO-SAMPLE-{transport.ToUpperInvariant()}";

        var (exitCode, output) = await RunSampleAsync(buyerId, transport == "grpc" ? ["--grpc", reference, Sku, "4", "20000"] : [reference, Sku, "4", "20000"],
            cancellationToken);

        exitCode.ShouldBe(0, output);
        output.ShouldContain($"over {(transport == "grpc" ? "gRPC" : "REST")}", Case.Sensitive, output);
        output.ShouldContain("-> Held", Case.Sensitive, output);
        output.ShouldContain("Confirmed by the buyer", Case.Sensitive, output);
        output.ShouldContain("ended Confirmed", Case.Sensitive, output);
        output.ShouldContain($"{Sku}: 4/4 from arrow@HKG-1 4 x 12000", Case.Sensitive, output);

        using var orderingHttp = new HttpClient { BaseAddress = system.Ordering.Rest };
        var buyer = new BuyerClient(orderingHttp, _ => ValueTask.FromResult(TestTokens.Buyer(buyerId)));
        var reservation = (await buyer.ListAsync(new ReservationFilter(BuyerReference: reference), cancellationToken: cancellationToken))
            .Reservations.ShouldHaveSingleItem();
        reservation.Status.ShouldBe(ReservationStatus.Confirmed);
        var orders = new List<DistributorOrder>();
        await foreach (var order in distributor.ListAllOrdersAsync(cancellationToken: cancellationToken))
        {
            orders.Add(order);
        }

        var mine = orders.Where(order => order.ReservationId == reservation.Id).ShouldHaveSingleItem("the distributor learns of the order");
        (mine.BuyerOrganisation, mine.Units).ShouldBe((buyerId, 4L));
    }

    private async Task<(int ExitCode, string Output)> RunSampleAsync(string buyerId, string[] arguments, CancellationToken cancellationToken)
    {
        var configuration = typeof(ClientSampleTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(ServiceProcess.RepositoryRoot(), "clients", "Brokering.Client.Sample", "bin", configuration, "net10.0", "Brokering.Client.Sample.dll");
        File.Exists(dll).ShouldBeTrue($"{dll} is built with the tests");
        var start = new ProcessStartInfo("dotnet", [dll, .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["BROKERING_ORDERING_URL"] = system.Ordering.Rest.ToString(),
                ["BROKERING_ORDERING_GRPC_URL"] = system.Ordering.Grpc.ToString(),
                ["BROKERING_TOKEN"] = TestTokens.Buyer(buyerId),
            },
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("The sample did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        patience.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(patience.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The sample did not end within two minutes.\n{await stdout}\n{await stderr}\n{system.Logs}");
        }

        return (process.ExitCode, $"{await stdout}\n{await stderr}");
    }
}
