using System.Net.Http.Headers;
using Brokering.Testing;
using Grpc.Net.Client;

namespace Brokering.EndToEnd.Tests;

/// <summary>
/// The three services as separate processes on real ports, each with a fresh database, sharing a
/// fresh RabbitMQ virtual host: a whole Brokering installation per test class.
/// </summary>
public sealed class BrokeringSystem : IAsyncLifetime
{
    private readonly List<string> databases = [];
    private Uri? virtualHost;

    public ServiceProcess Compliance { get; private set; } = null!;
    public ServiceProcess Inventory { get; private set; } = null!;
    public ServiceProcess Ordering { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("e2e");
        var broker = virtualHost.ToString();

        Compliance = await StartAsync("Compliance", broker, []);
        Inventory = await StartAsync("Inventory", broker, []);
        Ordering = await StartAsync("Ordering", broker, new()
        {
            ["Services__Compliance"] = Compliance.Grpc.ToString(),
            ["Services__Inventory"] = Inventory.Grpc.ToString(),
        });
    }

    /// <summary>A buyer's client of ordering's REST API.</summary>
    public HttpClient Buyer(string buyerId) => RestClient(Ordering, buyerId);

    /// <summary>A distributor's client of inventory's REST API.</summary>
    public HttpClient Distributor(string distributorId) => RestClient(Inventory);

    /// <summary>A compliance officer's client of compliance's REST API.</summary>
    public HttpClient ComplianceOfficer() => RestClient(Compliance);

    /// <summary>An operator's client of ordering's ops API.</summary>
    public HttpClient Operator() => RestClient(Ordering);

    /// <summary>gRPC call metadata identifying a buyer.</summary>
    public static Grpc.Core.Metadata BuyerMetadata(string buyerId) => new() { { "x-buyer-id", buyerId } };

    /// <summary>An HTTP client for a service's REST port, identifying as the given buyer.</summary>
    private static HttpClient RestClient(ServiceProcess service, string? buyerId = null)
    {
        var client = new HttpClient { BaseAddress = service.Rest, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (buyerId is not null)
        {
            client.DefaultRequestHeaders.Add("X-Buyer-Id", buyerId);
        }

        return client;
    }

    public static GrpcChannel GrpcChannelTo(ServiceProcess service) => GrpcChannel.ForAddress(service.Grpc);

    public string Logs => $"--- ordering ---\n{Ordering?.RecentOutput}\n--- inventory ---\n{Inventory?.RecentOutput}\n--- compliance ---\n{Compliance?.RecentOutput}";

    public async ValueTask DisposeAsync()
    {
        foreach (var service in new[] { Ordering, Inventory, Compliance })
        {
            if (service is not null)
            {
                await service.DisposeAsync();
            }
        }

        foreach (var database in databases)
        {
            await TestInfrastructure.DropDatabaseAsync(database);
        }

        if (virtualHost is not null)
        {
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
        }
    }

    private async Task<ServiceProcess> StartAsync(string name, string broker, Dictionary<string, string> environment)
    {
        var database = await TestInfrastructure.CreateDatabaseAsync($"e2e_{name.ToLowerInvariant()}");
        databases.Add(database);
        environment["ConnectionStrings__Database"] = database;
        environment["ConnectionStrings__RabbitMq"] = broker;
        var service = ServiceProcess.Start(name, environment);
        await service.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        return service;
    }
}
