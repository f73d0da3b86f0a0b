using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Ordering;
using Brokering.Messaging.Postgres;
using Brokering.Ordering.Data;
using Brokering.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>
/// Ordering on real PostgreSQL and RabbitMQ against the stand-in compliance and inventory, with failed activities
/// redelivered every few seconds, and the few things its tests ask of it.
/// </summary>
internal sealed class StandInOrderingHost(StandInDependencies dependencies, bool kestrel) : OrderingHost(kestrel)
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Starts ordering in-process; with <paramref name="kestrel"/>, on real ports (gRPC clients need HTTP/2 over TCP).</summary>
    public static async Task<StandInOrderingHost> StartAsync(StandInDependencies dependencies, bool kestrel = false)
    {
        var host = new StandInOrderingHost(dependencies, kestrel);
        await host.InitializeAsync();
        dependencies.Inventory.Events = host.Probe.Publish;
        return host;
    }

    /// <summary>Submits 4 units of the stand-ins' SKU to SG (all or none) for a new buyer; returns the reservation's id.</summary>
    public async Task<Guid> SubmitAsync(Confirmation confirmation, string endUser = "Lion City Compute Pte. Ltd.")
    {
        using var client = ClientWith(TestTokens.Buyer(Sagas.NewBuyer("outage")));
        using var response = await client.PostAsJsonAsync(new Uri("/v1/reservations", UriKind.Relative), new
        {
            buyerReference = "PO-OUTAGE",
            endUser = new { name = endUser, country = "SG" },
            destinationCountry = "SG",
            fillPolicy = new { kind = "AllOrNone" },
            confirmation = confirmation.ToString(),
            lines = new[] { new { sku = StandInCompliance.Sku, quantity = 4, maxUnitPrice = 20_000m, currency = "USD" } },
        }, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(Ct));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        return body.GetProperty("id").GetGuid();
    }

    /// <summary>The saga's state; null until the submission has come through the broker.</summary>
    public async Task<string?> StateAsync(Guid id)
    {
        using var scope = Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        return await db.Sagas.AsNoTracking().Where(s => s.CorrelationId == id).Select(s => s.CurrentState).SingleOrDefaultAsync(Ct);
    }

    /// <summary>Waits, with the patience of these whole-saga tests, until the reservation is in <paramref name="state"/>.</summary>
    public Task ReachesAsync(Guid id, string state) => EventuallyAsync(async () => await StateAsync(id) == state, $"the reservation {state}");

    public async Task<string> BuyerOfAsync(Guid id) => (await SagaAsync(id)).BuyerId;

    /// <summary>A redelivery of a message of the given type waits in the durable scheduler.</summary>
    public async Task<bool> RedeliveryScheduledAsync(string messageType)
    {
        using var scope = Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        return await db.Set<ScheduledMessageRecord>().AsNoTracking()
            .AnyAsync(row => row.CancelledAt == null && row.MessageType.Contains(messageType), Ct);
    }

    /// <summary>Waits until <paramref name="condition"/> holds, with the patience these slower whole-saga tests need.</summary>
    public static Task EventuallyAsync(Func<Task<bool>> condition, string what) =>
        Eventually.Until(condition, what, Patience, TimeSpan.FromMilliseconds(200), cancellationToken: Ct);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Services:Compliance", dependencies.Address.ToString());
        builder.UseSetting("Services:ComplianceApi", "http://127.0.0.1:9");
        builder.UseSetting("Services:Inventory", dependencies.Address.ToString());
        builder.UseSetting("Ordering:ActivityRetry:InMemoryRetries", "1");
        builder.UseSetting("Ordering:ActivityRetry:InMemoryMinInterval", "00:00:00.100");
        builder.UseSetting("Ordering:ActivityRetry:InMemoryMaxInterval", "00:00:00.500");
        builder.UseSetting("Ordering:ActivityRetry:Redeliveries:0", "00:00:02");
        builder.UseSetting("Ordering:ActivityRetry:RedeliveryRepeatInterval", "00:00:03");
        builder.UseSetting("Ordering:ActivityRetry:RedeliveryRepeats", "400");
    }
}
