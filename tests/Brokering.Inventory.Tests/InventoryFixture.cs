extern alias contracts;

using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Inventory;
using Brokering.Inventory.StockFeeds;
using Brokering.Testing;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Brokering.ServiceDefaults.Security;
using Grpc.Core;
using HoldsLedgerClient = contracts::Brokering.Contracts.Grpc.Inventory.HoldsLedger.HoldsLedgerClient;
using StockFeedsClient = contracts::Brokering.Contracts.Grpc.Inventory.StockFeeds.StockFeedsClient;

[assembly: AssemblyFixture(typeof(Brokering.Inventory.Tests.InventoryFixture))]

namespace Brokering.Inventory.Tests;

/// <summary>
/// One fresh database and virtual host for the test run, two instances of the service on them (two
/// replicas), and a probe that records every inventory event the outbox delivers to the broker.
/// Tests isolate themselves by registering their own distributors.
/// </summary>
public sealed class InventoryFixture : IAsyncLifetime
{
    private static readonly string[] FixtureListens = ["holds.placed"];

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    public string Database { get; private set; } = string.Empty;

    public Uri VirtualHost { get; private set; } = null!;

    /// <summary>The first replica.</summary>
    public InventoryHost A { get; private set; } = null!;

    /// <summary>The second replica, on the same database and broker.</summary>
    public InventoryHost B { get; private set; } = null!;

    public BrokerProbe Events { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Database = await TestInfrastructure.CreateDatabaseAsync("inventory_tests");
        VirtualHost = await TestInfrastructure.CreateVirtualHostAsync("inventory-tests");
        Events = await BrokerProbe.StartAsync(VirtualHost, "inventory-tests-probe", events => events
            .Keep<HoldsPlaced>().Keep<HoldsReleased>().Keep<HoldsCommitted>().Keep<HoldsExpired>()
            .Keep<StockShortfallDetected>().Keep<StockAvailable>().Keep<DistributorOrderPlaced>().Keep<DistributorOrderRevoked>());
        A = await InventoryHost.StartAsync(Database, VirtualHost);
        B = await InventoryHost.StartAsync(Database, VirtualHost);

        // Hold events are announced only while some distributor subscribes to webhooks (HoldAnnouncements): one
        // subscription of the fixture's own, so the tests here that read HoldsPlaced, HoldsCommitted and HoldsReleased
        // from the bus see them. DistributorWebhookBindingTests proves the other case on a system of its own.
        var listener = await NewDistributorAsync();
        using var subscribe = new HttpRequestMessage(HttpMethod.Post, "/v1/distributor/webhooks/subscriptions")
        {
            Content = JsonContent.Create(new { url = "https://erp.example.com/fixture-hooks", eventTypes = FixtureListens }),
        };
        subscribe.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestTokens.Distributor(listener));
        using var subscribed = await A.Http.SendAsync(subscribe);
        subscribed.EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        await Events.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(Database);
        await TestInfrastructure.DeleteVirtualHostAsync(VirtualHost);
    }

    /// <summary>
    /// Starts a replica on this fixture's database but attached to <paramref name="virtualHost"/> (its own feed queue,
    /// its own settings). It leaves expiring holds to <see cref="A"/> and <see cref="B"/>: a HoldsExpired it published
    /// would go to its own virtual host, where <see cref="Events"/> never hears of it.
    /// </summary>
    public Task<InventoryHost> StartReplicaAsync(
        Uri virtualHost, IReadOnlyDictionary<string, string> settings, Action<IServiceCollection>? services = null) =>
        InventoryHost.StartAsync(Database, virtualHost,
            new Dictionary<string, string>(settings) { ["Inventory:SweepExpiredHolds"] = "false" }, services);

    /// <summary>Registers a distributor of the test's own and returns its id.</summary>
    public async Task<string> NewDistributorAsync(InventoryHost? host = null)
    {
        var id = $"t-{Guid.NewGuid():N}"[..20];
        using var response = await (host ?? A).Http.PostAsJsonAsync("/v1/distributors", new { id, name = $"Test distributor {id}" });
        response.EnsureSuccessStatusCode();
        return id;
    }

    /// <summary>Registers a fresh ECDSA P-256 feed key for a distributor (as ops) and returns the private key.</summary>
    public async Task<System.Security.Cryptography.ECDsa> RegisterFeedKeyAsync(string distributorId)
    {
        var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/distributors/{distributorId}/feed-key")
        {
            Content = JsonContent.Create(new { publicKey = key.ExportSubjectPublicKeyInfoPem() }),
        };
        using var response = await A.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return key;
    }

    /// <summary>Posts a stock update through REST; the body is serialised as is.</summary>
    public Task<HttpResponseMessage> PostFeedAsync(string distributorId, object body, InventoryHost? host = null) =>
        (host ?? A).Http.PostAsJsonAsync($"/v1/distributors/{distributorId}/stock-feed", body, Json);

    /// <summary>Posts a snapshot through REST and returns the result (which must be a success).</summary>
    public Task<StockUpdateResponse> SnapshotAsync(string distributorId, long sequence, params Stock[] items) =>
        SnapshotAsync(A, distributorId, sequence, items);

    /// <summary>Posts a snapshot through <paramref name="host"/>'s REST API and returns the result (which must be a success).</summary>
    public async Task<StockUpdateResponse> SnapshotAsync(InventoryHost host, string distributorId, long sequence, params Stock[] items)
    {
        using var response = await PostFeedAsync(distributorId, new
        {
            distributorId,
            sequence,
            kind = "Snapshot",
            items = items.Select(i => new
            {
                sku = i.Sku,
                warehouse = i.Warehouse,
                quantityOnHand = i.Quantity,
                unitPrice = i.Price,
                currency = "USD",
                leadTimeDays = 2,
                minimumOrderQuantity = i.Moq,
            }),
        }, host);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<StockUpdateResponse>(Json))!;
    }

    /// <summary>Posts a delta through REST and returns the result (which must be a success).</summary>
    public async Task<StockUpdateResponse> DeltaAsync(string distributorId, long sequence, params Stock[] items)
    {
        using var response = await PostFeedAsync(distributorId, new
        {
            distributorId,
            sequence,
            kind = "Delta",
            items = items.Select(i => new { sku = i.Sku, warehouse = i.Warehouse, quantityChange = i.Quantity, unitPrice = i.Price, currency = "USD" }),
        });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<StockUpdateResponse>(Json))!;
    }

    /// <summary>A level as stored, with the sums of its holds by status.</summary>
    public async Task<LevelState> LevelAsync(string distributorId, string sku, string warehouse)
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT COALESCE(s.on_hand, 0), COALESCE(s.held, 0), COALESCE(s.committed, 0),
                   COALESCE((SELECT SUM(quantity) FROM holds h WHERE h.distributor_id = @d AND h.sku = @s AND h.warehouse = @w AND h.status = 'Active'), 0)::bigint,
                   COALESCE((SELECT SUM(quantity) FROM holds h WHERE h.distributor_id = @d AND h.sku = @s AND h.warehouse = @w AND h.status = 'Committed'), 0)::bigint
            FROM (SELECT 1) one LEFT JOIN stock_levels s ON s.distributor_id = @d AND s.sku = @s AND s.warehouse = @w
            """, connection);
        command.Parameters.AddWithValue("d", distributorId);
        command.Parameters.AddWithValue("s", sku);
        command.Parameters.AddWithValue("w", warehouse);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new LevelState(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
    }

    /// <summary>Runs SQL against the service's database (to age a feed, for instance).</summary>
    public async Task ExecuteSqlAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync();
    }

    public static PlaceHoldsRequest PlaceRequest(Guid reservationId, int planVersion, TimeSpan expiresIn, params HoldRequest[] holds)
    {
        var request = new PlaceHoldsRequest
        {
            ReservationId = reservationId.ToString(),
            PlanVersion = planVersion,
            ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow + expiresIn),
        };
        request.Holds.AddRange(holds);
        return request;
    }

    public static HoldRequest Hold(string distributorId, string sku, string warehouse, long quantity, decimal? maxUnitPrice = null) => new()
    {
        DistributorId = distributorId,
        Sku = sku,
        Warehouse = warehouse,
        Quantity = quantity,
        MaxUnitPrice = maxUnitPrice is { } max ? Brokering.Contracts.Grpc.Common.DecimalValue.FromDecimal(max) : null,
    };
}

/// <summary>An item of a test feed.</summary>
public sealed record Stock(string Sku, string Warehouse, long Quantity, decimal Price = 1000m, long Moq = 1);

/// <summary>A level and what its holds add up to.</summary>
public sealed record LevelState(long OnHand, long Held, long Committed, long ActiveHolds, long CommittedHolds);

/// <summary>One instance of the service, hosted in memory.</summary>
public sealed partial class InventoryHost : WebApplicationFactory<Program>
{
    private readonly string database;
    private readonly Uri virtualHost;
    private readonly IReadOnlyDictionary<string, string>? settings;
    private readonly Action<IServiceCollection>? services;

    private InventoryHost(string database, Uri virtualHost, IReadOnlyDictionary<string, string>? settings, Action<IServiceCollection>? services)
    {
        this.database = database;
        this.virtualHost = virtualHost;
        this.settings = settings;
        this.services = services;
    }

    public HttpClient Http { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    public GrpcChannel FeedChannel { get; private set; } = null!;

    public HoldsLedgerClient Ledger { get; private set; } = null!;

    public StockFeedsClient Feeds { get; private set; } = null!;

    /// <summary>Starts a replica; <paramref name="settings"/> override configuration, <paramref name="services"/> adds test services.</summary>
    public static async Task<InventoryHost> StartAsync(
        string database, Uri virtualHost, IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? services = null)
    {
        var host = new InventoryHost(database, virtualHost, settings, services);
        // REST: a distributor's token for its own feed, an operator's for the rest (the platform reads admit ops).
        host.Http = host.CreateDefaultClient(new TokenPerRequest());
        // gRPC: ledger calls are ordering's (service identity on the channel); stock feed calls carry the
        // distributor's own token per call (AsDistributor), on a channel without credentials of its own.
        host.Channel = TestServiceHost.ServiceChannel(host.Server);
        host.FeedChannel = GrpcChannel.ForAddress(host.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = host.Server.CreateHandler() });
        host.Ledger = new HoldsLedgerClient(host.Channel);
        host.Feeds = new StockFeedsClient(host.FeedChannel);
        using var ready = await host.Http.GetAsync("/health/ready");
        ready.EnsureSuccessStatusCode();
        return host;
    }

    /// <summary>
    /// Places plan 1 of <paramref name="reservation"/> for the buyer organisation <paramref name="buyer"/> and checks every
    /// hold was granted in full (the tests that use it are about what follows a placement).
    /// </summary>
    public async Task PlaceInFullAsync(Guid reservation, string buyer, TimeSpan expiresIn, params HoldRequest[] holds)
    {
        var request = InventoryFixture.PlaceRequest(reservation, 1, expiresIn, holds);
        request.BuyerOrganisation = buyer;
        var placed = await Ledger.PlaceHoldsAsync(request, cancellationToken: TestContext.Current.CancellationToken);
        placed.Holds.ShouldAllBe(h => h.Held == h.Requested);
    }

    /// <summary>Commits every active hold of <paramref name="reservation"/>, before a cutoff five minutes away.</summary>
    public Task<CommitHoldsResponse> CommitAsync(Guid reservation) =>
        Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(5)),
        }, cancellationToken: TestContext.Current.CancellationToken).ResponseAsync;

    /// <summary>Call metadata for a distributor publishing its own feed.</summary>
    public static Metadata AsDistributor(string distributorId) => new() { { "authorization", $"Bearer {TestTokens.Distributor(distributorId)}" } };

    private sealed partial class TokenPerRequest : DelegatingHandler
    {
        private static readonly string Platform = TestTokens.For("platform", null, BrokeringRoles.Ops);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var feed = FeedPath().Match(request.RequestUri?.AbsolutePath ?? string.Empty);
            request.Headers.Authorization ??= new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
                feed.Success ? TestTokens.Distributor(Uri.UnescapeDataString(feed.Groups[1].Value)) : Platform);
            return base.SendAsync(request, cancellationToken);
        }

        [System.Text.RegularExpressions.GeneratedRegex("^/v1/distributors/([^/]+)/stock-feed$")]
        private static partial System.Text.RegularExpressions.Regex FeedPath();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseTestInfrastructure("inventory", database, virtualHost);
        builder.UseSetting("Inventory:ExpirySweepInterval", "00:00:00.200");
        builder.UseSetting("Logging:LogLevel:Brokering.Inventory.StockFeeds.StockFeedIngestor", "Error");
        // Distributors' webhooks to a receiver in the test (DistributorWebhookTests), retried and paused quickly.
        WebhookTestSettings.Apply(builder, failuresBeforePause: 5, maxSubscriptionsPerTenant: 3);
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            builder.UseSetting(key, value);
        }

        // A host started as production (TokenValidationTests) is held to production's webhook rules: the service refuses
        // to start with loopback endpoints allowed there.
        if (settings is not null && settings.TryGetValue("environment", out var environment)
            && string.Equals(environment, Microsoft.Extensions.Hosting.Environments.Production, StringComparison.OrdinalIgnoreCase))
        {
            builder.UseSetting("Webhooks:AllowInsecureLoopback", "false");
        }

        if (this.services is { } configure)
        {
            builder.ConfigureTestServices(configure);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        Channel?.Dispose();
        FeedChannel?.Dispose();
        Http?.Dispose();
        await base.DisposeAsync();
    }
}
