extern alias contracts;

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Grpc.Net.Client;
using MassTransit;
using Microsoft.AspNetCore.Mvc.Testing;
using Api = Brokering.Contracts.Grpc.Compliance;
using ComplianceClient = contracts::Brokering.Contracts.Grpc.Compliance.Compliance.ComplianceClient;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// The compliance service hosted in-process on real PostgreSQL and RabbitMQ, each fixture with a
/// database and a virtual host of its own (so published rule sets do not leak between fixtures).
/// </summary>
public sealed class ComplianceServiceFixture : IAsyncLifetime
{
    private WebApplicationFactory<Program>? factory;
    private GrpcChannel? channel;

    public string DatabaseConnectionString { get; private set; } = string.Empty;

    public Uri VirtualHost { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public ComplianceClient Grpc { get; private set; } = null!;

    public IServiceProvider Services => factory!.Services;

    public async ValueTask InitializeAsync()
    {
        DatabaseConnectionString = await TestInfrastructure.CreateDatabaseAsync("compliance_tests");
        VirtualHost = await TestInfrastructure.CreateVirtualHostAsync("compliance-tests");
        // The tests' buyers are not registered with compliance: screened on what their reservations say, unless a test
        // registers one (the refusal of unregistered buyers, the production default, has tests of its own).
        factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseTestInfrastructure("compliance", DatabaseConnectionString, VirtualHost)
            .UseSetting("Compliance:UnregisteredBuyers", nameof(UnregisteredBuyerPolicy.ScreenReservationOnly)));
        // The officer publishes rules, lists and licences; ordering calls gRPC with its service identity.
        Http = factory.CreateClient();
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            TestTokens.For("officer", null, BrokeringRoles.ComplianceOfficer, BrokeringRoles.Ops));
        channel = TestServiceHost.ServiceChannel(factory.Server);
        Grpc = new ComplianceClient(channel);
    }

    /// <summary>
    /// Screens a new reservation of 8 H100s for a cloud company in Singapore, shipped to <paramref name="destination"/>, as
    /// ordering would: the datacenter GPU every rule set restricts, so the destination decides.
    /// </summary>
    public async Task<(string ReservationId, Api.ScreenResponse Answer)> ScreenH100Async(string destination, string buyerId = "buyer-1")
    {
        var request = new Api.ScreenRequest
        {
            ReservationId = Guid.NewGuid().ToString(),
            BuyerId = buyerId,
            EndUser = new Api.Party { Name = "Acme Cloud Pte. Ltd.", Country = "SG" },
            DestinationCountry = destination,
        };
        request.Lines.Add(new Api.ScreenLine { Sku = "NVIDIA-H100-SXM5-80GB", Quantity = 8 });
        return (request.ReservationId, await Grpc.ScreenAsync(request, cancellationToken: TestContext.Current.CancellationToken));
    }

    /// <summary>A client of the service carrying no token.</summary>
    public HttpClient CreateAnonymousClient() => factory!.CreateClient();

    /// <summary>
    /// Records an export licence for a buyer of the test's own: <paramref name="units"/> units of <paramref name="sku"/>
    /// to <paramref name="destinationCountry"/>, valid for a year. Returns the buyer and the licence's address.
    /// </summary>
    public async Task<RecordedLicence> RecordLicenceAsync(string sku, string destinationCountry, long units)
    {
        var buyer = $"buyer-{Guid.NewGuid():N}";
        using var recorded = await Http.PostAsJsonAsync("/v1/licences", new
        {
            number = $"L{Guid.NewGuid():N}"[..12],
            buyerId = buyer,
            skus = new[] { sku },
            destinationCountry,
            quantity = units,
            validUntil = DateTimeOffset.UtcNow.AddDays(365),
        }, TestContext.Current.CancellationToken);
        recorded.StatusCode.ShouldBe(HttpStatusCode.Created);
        return new RecordedLicence(buyer, recorded.Headers.Location!);
    }

    /// <summary>A bus of the test's own on the fixture's virtual host, to observe what the service publishes.</summary>
    public async Task<IBusControl> StartObserverAsync(string queue, Action<IRabbitMqReceiveEndpointConfigurator> configure)
    {
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            var credentials = VirtualHost.UserInfo.Split(':', 2);
            cfg.Host(VirtualHost.Host, (ushort)VirtualHost.Port, Uri.UnescapeDataString(VirtualHost.AbsolutePath.TrimStart('/')), host =>
            {
                host.Username(Uri.UnescapeDataString(credentials[0]));
                host.Password(Uri.UnescapeDataString(credentials[1]));
            });
            cfg.ReceiveEndpoint(queue, configure);
        });
        await bus.StartAsync(TestContext.Current.CancellationToken);
        return bus;
    }

    public async ValueTask DisposeAsync()
    {
        channel?.Dispose();
        Http?.Dispose();
        if (factory is not null)
        {
            await factory.DisposeAsync();
        }

        if (DatabaseConnectionString.Length > 0)
        {
            await TestInfrastructure.DropDatabaseAsync(DatabaseConnectionString);
        }

        if (VirtualHost is not null)
        {
            await TestInfrastructure.DeleteVirtualHostAsync(VirtualHost);
        }
    }
}

/// <summary>A licence on file: the buyer it was recorded for, and where to read it (units drawn and remaining).</summary>
public sealed record RecordedLicence(string BuyerId, Uri Url);
