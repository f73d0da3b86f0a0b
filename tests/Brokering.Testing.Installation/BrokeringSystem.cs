using System.Net.Http.Headers;
using Brokering.Invariants;
using Grpc.Net.Client;

namespace Brokering.Testing.Installation;

/// <summary>
/// The three services as separate processes on real ports, each with a fresh database, sharing a
/// fresh RabbitMQ virtual host: a whole Brokering installation per test class.
/// </summary>
/// <remarks>
/// Not sealed so a test project can add its framework's lifetime interface (xUnit's <c>IAsyncLifetime</c>)
/// without this library depending on a test framework.
/// </remarks>
public class BrokeringSystem : IAsyncDisposable
{
    private readonly List<string> databases = [];
    private Uri? virtualHost;

    public ServiceProcess Compliance { get; private set; } = null!;
    public ServiceProcess Inventory { get; private set; } = null!;
    public ServiceProcess Ordering { get; private set; } = null!;

    /// <summary>Connection string to compliance's database (read-only use: invariant checks).</summary>
    public string ComplianceDatabase { get; private set; } = null!;

    /// <summary>Connection string to inventory's database (read-only use: invariant checks).</summary>
    public string InventoryDatabase { get; private set; } = null!;

    /// <summary>Connection string to ordering's database (read-only use: invariant checks).</summary>
    public string OrderingDatabase { get; private set; } = null!;

    /// <summary>The three databases, for <see cref="InvariantChecker"/>.</summary>
    public InvariantDatabases Databases => new(OrderingDatabase, InventoryDatabase, ComplianceDatabase);

    /// <summary>Starts compliance, inventory and ordering, in that order, each once ready.</summary>
    public async ValueTask InitializeAsync()
    {
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("e2e");
        var broker = virtualHost.ToString();

        (Compliance, ComplianceDatabase) = await StartAsync("Compliance", broker, []);
        (Inventory, InventoryDatabase) = await StartAsync("Inventory", broker, []);
        (Ordering, OrderingDatabase) = await StartAsync("Ordering", broker, new()
        {
            ["Services__Compliance"] = Compliance.Grpc.ToString(),
            ["Services__Inventory"] = Inventory.Grpc.ToString(),
        });
    }

    /// <summary>A buyer's client of ordering's REST API.</summary>
    public HttpClient Buyer(string buyerId) => RestClient(Ordering, TestTokens.Buyer(buyerId));

    /// <summary>A distributor's client of inventory's REST API.</summary>
    public HttpClient Distributor(string distributorId) => RestClient(Inventory, TestTokens.Distributor(distributorId));

    /// <summary>A compliance officer's client of compliance's REST API.</summary>
    public HttpClient ComplianceOfficer() => RestClient(Compliance, TestTokens.ComplianceOfficer());

    /// <summary>An operator's client of ordering's ops API.</summary>
    public HttpClient Operator() => RestClient(Ordering, TestTokens.Operator());

    /// <summary>gRPC call metadata identifying a buyer.</summary>
    public static Grpc.Core.Metadata BuyerMetadata(string buyerId) => new() { { "Authorization", $"Bearer {TestTokens.Buyer(buyerId)}" } };

    /// <summary>An HTTP client for a service's REST port, carrying a bearer token.</summary>
    private static HttpClient RestClient(ServiceProcess service, string token)
    {
        var client = new HttpClient { BaseAddress = service.Rest, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static GrpcChannel GrpcChannelTo(ServiceProcess service) => GrpcChannel.ForAddress(service.Grpc);

    public string Logs => $"--- ordering ---\n{Ordering?.RecentOutput}\n--- inventory ---\n{Inventory?.RecentOutput}\n--- compliance ---\n{Compliance?.RecentOutput}";

    /// <summary>Stops the services and drops their databases and virtual host.</summary>
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

        GC.SuppressFinalize(this);
    }

    /// <summary>Checks DESIGN §4's invariants on the three databases as they are now.</summary>
    public Task<InvariantReport> CheckInvariantsAsync(InvariantCheckOptions? options = null, CancellationToken cancellationToken = default) =>
        InvariantChecker.CheckAsync(Databases, options, cancellationToken);

    private async Task<(ServiceProcess Service, string Database)> StartAsync(string name, string broker, Dictionary<string, string> environment)
    {
        var database = await TestInfrastructure.CreateDatabaseAsync($"e2e_{name.ToLowerInvariant()}");
        databases.Add(database);
        environment["ConnectionStrings__Database"] = database;
        environment["ConnectionStrings__RabbitMq"] = broker;
        environment["Authentication__SigningKey"] = TestTokens.SigningKey;
        var service = ServiceProcess.Start(name, environment);
        await service.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        return (service, database);
    }
}
