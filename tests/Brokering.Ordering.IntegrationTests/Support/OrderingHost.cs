using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Reservations;
using Brokering.Ordering.Saga;
using Brokering.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>
/// The ordering service hosted in-process on a fresh database and a fresh RabbitMQ virtual host, with a
/// probe on the same broker. Compliance and inventory are not running: their addresses point at a closed
/// port, so activities that call them keep retrying, which the ops tests never need to succeed.
/// </summary>
public class OrderingHost : WebApplicationFactory<Program>, IAsyncLifetime
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private readonly bool kestrel;
    private string database = string.Empty;
    private Uri virtualHost = null!;
    private int httpPort;
    private int grpcPort;

    public OrderingHost()
        : this(kestrel: false)
    {
    }

    protected OrderingHost(bool kestrel) => this.kestrel = kestrel;

    public BrokerProbe Probe { get; private set; } = null!;

    /// <summary>Where a browser reaches the service (Kestrel hosts only).</summary>
    public Uri Address => new($"http://127.0.0.1:{httpPort}");

    /// <summary>Where a gRPC client reaches the service over HTTP/2 (Kestrel hosts only).</summary>
    public Uri GrpcAddress => new($"http://127.0.0.1:{grpcPort}");

    /// <summary>The connection string of the service's own database.</summary>
    public string Database => database;

    /// <summary>A client with an operator's token (subject <c>operator</c>, role ops).</summary>
    public HttpClient Http { get; private set; } = null!;

    /// <summary>A token for the operator the tests act as.</summary>
    public static string OperatorToken { get; } = TestTokens.Operator();

    public virtual async ValueTask InitializeAsync()
    {
        database = await TestInfrastructure.CreateDatabaseAsync("ordering_ops_tests");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("ordering-ops-tests");
        Probe = await BrokerProbe.StartAsync(virtualHost, "ordering-tests-probe", messages => messages
            .Keep<ReleaseReservationHolds>().Keep<RescreenReservation>().Keep<ScreenReservation>().Keep<ReservationStatusChanged>()
            .Keep<ReservationEndedUnconfirmed>().Keep<ReservationCancellationRequested>());
        if (kestrel)
        {
            var ports = FreePort.Next(2);
            (httpPort, grpcPort) = (ports[0], ports[1]);
            UseKestrel();
            StartServer();
        }

        Http = ClientWith(OperatorToken);
        if (!LoadsCatalogue)
        {
            return;
        }

        TestCatalogue.LoadInto(Services);
        using var ready = await Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        ready.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// Whether the host is given <see cref="TestCatalogue"/> before its first request (and waited on to be ready). A host
    /// without it has no catalogue copy, as a replica has until compliance first answers.
    /// </summary>
    protected virtual bool LoadsCatalogue => true;

    /// <summary>A client sending <paramref name="token"/> (none: anonymous).</summary>
    public HttpClient ClientWith(string? token)
    {
        var client = kestrel ? new HttpClient { BaseAddress = Address } : CreateClient();
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseTestInfrastructure("ordering", database, virtualHost);
        builder.UseSetting("Services:Compliance", "http://127.0.0.1:9");
        builder.UseSetting("Services:ComplianceApi", "http://127.0.0.1:9");
        builder.UseSetting("Services:Inventory", "http://127.0.0.1:9");
        builder.UseSetting("Logging:LogLevel:MassTransit", "Critical");
        builder.UseSetting("Logging:LogLevel:Microsoft.EntityFrameworkCore", "Error");
        if (kestrel)
        {
            builder.UseSetting("Kestrel:Endpoints:Http:Url", $"http://127.0.0.1:{httpPort}");
            builder.UseSetting("Kestrel:Endpoints:Grpc:Url", $"http://127.0.0.1:{grpcPort}");
        }
    }

    /// <summary>Stores saga rows (and, for those given one, the buyer's reservation) as if the saga had got them there.</summary>
    public async Task SeedAsync(params ReservationState[] sagas)
    {
        using var scope = Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        db.Sagas.AddRange(sagas);
        db.Reservations.AddRange(sagas.Select(Sagas.ReservationOf));
        await db.SaveChangesAsync();
    }

    public async Task<ReservationState> SagaAsync(Guid id)
    {
        using var scope = Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        return await db.Sagas.FindAsync(id) ?? throw new InvalidOperationException($"No saga {id}.");
    }

    /// <summary>Waits for the saga to reach <paramref name="state"/> (through the broker, so it takes a moment).</summary>
    public Task<ReservationState> WaitForStateAsync(Guid id, string state, TimeSpan? timeout = null) =>
        Eventually.Until(() => SagaAsync(id), saga => saga.CurrentState == state, timeout ?? TimeSpan.FromSeconds(20), $"saga {id} to be {state}");

    public async Task<T> GetJsonAsync<T>(string path) =>
        (await Http.GetFromJsonAsync<T>(new Uri(path, UriKind.Relative), Json))!;

    public Task<HttpResponseMessage> PostJsonAsync(string path, object body) =>
        Http.PostAsJsonAsync(new Uri(path, UriKind.Relative), body, Json);

    public override async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        await base.DisposeAsync();
        if (Probe is not null)
        {
            await Probe.DisposeAsync();
        }

        if (database.Length > 0)
        {
            await TestInfrastructure.DropDatabaseAsync(database);
        }

        if (virtualHost is not null)
        {
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
        }

        GC.SuppressFinalize(this);
    }
}

/// <summary>Saga rows as the saga would have left them, for seeding.</summary>
public static class Sagas
{
    public const string Sku = "NVIDIA-H800-SXM5-80GB";

    /// <summary>
    /// The exchange of the saga's own queue, named as ordering names it: where the activities' consumers send the saga
    /// their answers (<c>SagaAnswers</c>), so a test sends there what such a consumer would.
    /// </summary>
    public static readonly Uri Exchange = new($"exchange:{MassTransit.KebabCaseEndpointNameFormatter.Instance.Saga<ReservationState>()}");

    /// <summary>
    /// A saga in <paramref name="state"/>, with a plausible history up to it; holds at
    /// <paramref name="distributors"/> (split evenly) when the state has any.
    /// </summary>
    public static ReservationState In(
        string state, string buyer, DateTimeOffset? cutoff, string sku = Sku, long quantity = 40, params string[] distributors)
    {
        var now = DateTimeOffset.UtcNow;
        var submitted = now.AddMinutes(-10);
        var id = Guid.CreateVersion7();
        var path = PathTo(state);
        var history = path.Zip(path.Skip(1), (from, to) => (from, to))
            .Select((step, index) => new Transition(submitted.AddSeconds(index + 1), EventInto(step.to), step.from, step.to, null))
            .ToList();
        var holds = distributors.Length == 0 || state is "Screening" or "Rejected"
            ? []
            : distributors.Select(d => new Allocation(sku, d, "HKG-1", Guid.NewGuid(), quantity / distributors.Length, 31000m, "USD")).ToList();
        return new ReservationState
        {
            CorrelationId = id,
            CurrentState = state,
            BuyerId = buyer,
            DestinationCountry = "SG",
            FillPolicy = Contracts.Ordering.FillPolicy.AllOrNone,
            MinFillRatio = 1m,
            Confirmation = Contracts.Ordering.Confirmation.Manual,
            SubmittedAt = submitted,
            UpdatedAt = history.Count > 0 ? history[^1].At : submitted,
            Cutoff = cutoff,
            DecisionId = state == "Screening" ? null : $"dec-{id:N}",
            PlanVersion = state is "Screening" or "Rejected" ? 0 : 1,
            HoldsExpireAt = state == "Screening" ? null : now.AddMinutes(10),
            Lines = [new Contracts.Ordering.ReservationLine(sku, quantity, 32000m, "USD")],
            Allocations = holds,
            History = history,
        };
    }

    public static Reservation ReservationOf(ReservationState saga) => ReservationOf(saga, $"PO-{saga.CorrelationId.ToString()[..8]}");

    /// <summary>The accepted reservation behind <paramref name="saga"/>, under the buyer's own <paramref name="buyerReference"/>.</summary>
    public static Reservation ReservationOf(ReservationState saga, string buyerReference) => new()
    {
        Id = saga.CorrelationId,
        BuyerId = saga.BuyerId,
        BuyerReference = buyerReference,
        EndUserName = "Lion City Compute Pte. Ltd.",
        EndUserCountry = "SG",
        DestinationCountry = saga.DestinationCountry,
        FillPolicy = saga.FillPolicy,
        MinFillRatio = saga.MinFillRatio,
        Confirmation = saga.Confirmation,
        Lines = [.. saga.Lines],
        SubmittedAt = saga.SubmittedAt,
    };

    /// <summary>A unique buyer id, so a test's filters see only its own rows.</summary>
    public static string NewBuyer(string name) => $"{name}-{Guid.NewGuid():N}"[..30];

    private static string[] PathTo(string state) => state switch
    {
        "Screening" => ["Submitted", "Screening"],
        "Allocating" => ["Submitted", "Screening", "Allocating"],
        "Held" => ["Submitted", "Screening", "Allocating", "Held"],
        "AwaitingStock" => ["Submitted", "Screening", "Allocating", "AwaitingStock"],
        "Confirming" => ["Submitted", "Screening", "Allocating", "Held", "Confirming"],
        "Confirmed" => ["Submitted", "Screening", "Allocating", "Held", "Confirming", "Confirmed"],
        "Rejected" => ["Submitted", "Screening", "Rejected"],
        "Cancelled" => ["Submitted", "Screening", "Allocating", "Held", "Cancelled"],
        "Expired" => ["Submitted", "Screening", "Allocating", "Held", "Expired"],
        "CutoffMissed" => ["Submitted", "Screening", "Allocating", "Held", "CutoffMissed"],
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Not a saga state."),
    };

    private static string EventInto(string state) => state switch
    {
        "Screening" => "Submitted",
        "Allocating" or "Rejected" => "Screened",
        "Held" or "AwaitingStock" => "HoldsPlaced",
        "Confirming" => "ConfirmationRequested",
        "Confirmed" => "HoldsCommitted",
        "Cancelled" => "CancellationRequested",
        "Expired" => "HoldsExpired",
        _ => "CutoffTimer.Received",
    };
}
