using System.Net.Http.Headers;
using Brokering.Invariants;
using Brokering.ServiceDefaults;
using Brokering.Testing.Scramble;
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
    private readonly BrokeringSystemOptions options;
    private readonly List<string> databases = [];
    private Uri? virtualHost;
    private IReadOnlyDictionary<string, Uri> serviceAccounts = new Dictionary<string, Uri>();
    private long requests;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> feedSequences = new(StringComparer.Ordinal);

    /// <summary>The end-to-end tests' installation (see <see cref="BrokeringSystemOptions"/>'s defaults).</summary>
    public BrokeringSystem()
        : this(new BrokeringSystemOptions())
    {
    }

    /// <summary>An installation laid out as <paramref name="options"/> says.</summary>
    public BrokeringSystem(BrokeringSystemOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Replicas, 1);
        this.options = options;
    }

    /// <summary>Compliance (its first replica).</summary>
    public ServiceProcess Compliance => ComplianceReplicas[0];

    /// <summary>Inventory (its first replica).</summary>
    public ServiceProcess Inventory => InventoryReplicas[0];

    /// <summary>Ordering (its first replica).</summary>
    public ServiceProcess Ordering => OrderingReplicas[0];

    public IReadOnlyList<ServiceProcess> ComplianceReplicas { get; private set; } = [];
    public IReadOnlyList<ServiceProcess> InventoryReplicas { get; private set; } = [];
    public IReadOnlyList<ServiceProcess> OrderingReplicas { get; private set; } = [];

    /// <summary>Every service process, ordering's first.</summary>
    public IEnumerable<ServiceProcess> Processes => [.. OrderingReplicas, .. InventoryReplicas, .. ComplianceReplicas];

    /// <summary>
    /// The AMQP URI of the services' virtual host, as the test's administrator (guest); of a cluster's first node. On a
    /// fresh virtual host the services themselves connect with their own accounts from <c>deploy/local/rabbitmq-services.sh</c>.
    /// </summary>
    public Uri Broker { get; private set; } = null!;

    /// <summary>Connection string to compliance's database (read-only use: invariant checks).</summary>
    public string ComplianceDatabase { get; private set; } = null!;

    /// <summary>Connection string to inventory's database (read-only use: invariant checks).</summary>
    public string InventoryDatabase { get; private set; } = null!;

    /// <summary>Connection string to ordering's database (read-only use: invariant checks).</summary>
    public string OrderingDatabase { get; private set; } = null!;

    /// <summary>The three databases, for <see cref="InvariantChecker"/>.</summary>
    public InvariantDatabases Databases => new(OrderingDatabase, InventoryDatabase, ComplianceDatabase);

    /// <summary>
    /// The next sequence number of <paramref name="distributorId"/>'s stock feed on this installation. Tests of one class
    /// share an installation and run in an order xUnit derives from their ids (which differ between checkouts), so a
    /// test that picks a fixed sequence is superseded whenever a sibling published a higher one first.
    /// </summary>
    public long NextFeedSequence(string distributorId) => feedSequences.AddOrUpdate(distributorId, 1, (_, last) => last + 1);

    /// <summary>Starts compliance, inventory and ordering, in that order, each replica once ready.</summary>
    public async ValueTask InitializeAsync()
    {
        if (options.Broker is null)
        {
            virtualHost = await TestInfrastructure.CreateVirtualHostAsync("e2e");
            // Each service on its own least-privilege account, as deploy/local/up.sh runs them.
            serviceAccounts = await ServiceBrokerAccounts.CreateAsync(virtualHost);
        }

        Broker = options.Broker is { } broker ? BrokerAddress.Parse(broker, nameof(options.Broker)).First : virtualHost!;
        (ComplianceReplicas, ComplianceDatabase) = await StartAsync("Compliance", options.Environment.ContainsKey("Compliance__UnregisteredBuyers") ? [] : new()
        {
            // Nobody registers the scrambles' buyers with compliance: screened on what their reservations say, as a
            // development installation may be (production refuses unregistered buyers; the deployment tests register theirs).
            ["Compliance__UnregisteredBuyers"] = "ScreenReservationOnly",
        });
        (InventoryReplicas, InventoryDatabase) = await StartAsync("Inventory", []);
        (OrderingReplicas, OrderingDatabase) = await StartAsync("Ordering", new()
        {
            ["Services__Compliance"] = Route("Compliance", ComplianceReplicas).ToString(),
            // The console's review desk calls compliance's REST API with the officer's own token.
            ["Services__ComplianceApi"] = Compliance.Rest.ToString(),
            ["Services__Inventory"] = Route("Inventory", InventoryReplicas).ToString(),
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

    /// <summary>
    /// The scramble driver of this installation: each call goes to the next replica of its service (so a replica that
    /// is down costs one try), with the role's test token; <see cref="Logs"/> explain a wait that timed out.
    /// </summary>
    public ScrambleDriver Scramble(Func<string, TimeSpan>? timeoutOfRole = null) => new((service, role, tenant) =>
    {
        var client = RestClient(NextReplica(service), TestTokens.ForRole(role, tenant));
        if (timeoutOfRole is not null)
        {
            client.Timeout = timeoutOfRole(role);
        }

        return client;
    }, () => Logs);

    private ServiceProcess NextReplica(ScrambleService service)
    {
        var replicas = service switch
        {
            ScrambleService.Ordering => OrderingReplicas,
            ScrambleService.Inventory => InventoryReplicas,
            _ => ComplianceReplicas,
        };
        return replicas[(int)((uint)Interlocked.Increment(ref requests) % (uint)replicas.Count)];
    }

    /// <summary>gRPC call metadata identifying a buyer.</summary>
    public static Grpc.Core.Metadata BuyerMetadata(string buyerId) => new() { { "Authorization", $"Bearer {TestTokens.Buyer(buyerId)}" } };

    /// <summary>An HTTP client for a service's (or one replica's) REST port, carrying a bearer token.</summary>
    public static HttpClient RestClient(ServiceProcess service, string token)
    {
        var client = new HttpClient { BaseAddress = service.Rest, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static GrpcChannel GrpcChannelTo(ServiceProcess service) => GrpcChannel.ForAddress(service.Grpc);

    /// <summary>The recent output of every service process.</summary>
    public string Logs => string.Join("\n", Processes.Select(service => $"--- {service.Name} {service.Rest.Port} ---\n{service.RecentOutput}"));

    /// <summary>Stops the services and drops their databases and virtual host.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var service in Processes)
        {
            await service.DisposeAsync();
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

    /// <summary>Checks the invariants of docs/invariants.md on the three databases as they are now.</summary>
    public Task<InvariantReport> CheckInvariantsAsync(InvariantCheckOptions? options = null, CancellationToken cancellationToken = default) =>
        InvariantChecker.CheckAsync(Databases, options, cancellationToken);

    private Uri Route(string service, IReadOnlyList<ServiceProcess> replicas) =>
        options.RouteGrpc?.Invoke(service, replicas) ?? replicas[0].Grpc;

    private async Task<(IReadOnlyList<ServiceProcess> Replicas, string Database)> StartAsync(string name, Dictionary<string, string> environment)
    {
        var prefix = $"e2e_{name.ToLowerInvariant()}";
        string database;
        if (options.PostgresServer is null)
        {
            database = await TestInfrastructure.CreateDatabaseAsync(prefix);
            databases.Add(database);
        }
        else
        {
            database = await TestInfrastructure.CreateDatabaseOnAsync(options.PostgresServer, prefix);
        }

        foreach (var (key, value) in options.Environment)
        {
            environment.TryAdd(key, value);
        }

        environment["ConnectionStrings__Database"] = database;
        environment["ConnectionStrings__RabbitMq"] = serviceAccounts.GetValueOrDefault(name.ToLowerInvariant())?.ToString()
            ?? options.Broker ?? Broker.ToString();
        if (options.TestKeys)
        {
            foreach (var (key, value) in TestTokens.EnvironmentVariables(name.ToLowerInvariant()))
            {
                environment[key] = value;
            }
        }

        // One after the other: the first applies the migrations, the others find them applied.
        var replicas = new List<ServiceProcess>();
        for (var replica = 0; replica < options.Replicas; replica++)
        {
            var service = ServiceProcess.Start(name, environment, options.MemoryLimit);
            replicas.Add(service);
            try
            {
                await service.WaitUntilReadyAsync(options.ReadyPatience);
            }
            catch
            {
                foreach (var started in replicas)
                {
                    await started.DisposeAsync();
                }

                throw;
            }
        }

        return (replicas, database);
    }
}
