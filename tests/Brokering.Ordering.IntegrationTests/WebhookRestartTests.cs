using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Ordering stopped between a reservation's changes and their delivery (the endpoint was down, so nothing had been
/// accepted) and started again on the same database: every change is delivered, in order, under the ids the first
/// run gave them.
/// </summary>
public sealed class WebhookRestartTests : IAsyncLifetime
{
    private string database = string.Empty;
    private Uri virtualHost = null!;

    public async ValueTask InitializeAsync()
    {
        database = await TestInfrastructure.CreateDatabaseAsync("ordering_webhook_restart");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("ordering-webhook-restart");
    }

    [Fact]
    public async Task A_restart_of_ordering_between_a_change_and_its_delivery_loses_nothing()
    {
        var receiver = new WebhookReceiver(); // not started: its port refuses connections
        var tenant = Sagas.NewBuyer("hook-restart");
        Guid reservation;
        Guid subscription;
        string secret;
        List<WebhookBuyer.Delivery> before;
        await using (var first = new OrderingRun(database, virtualHost))
        {
            using var buyer = new WebhookBuyer(Client(first, tenant));
            var created = await buyer.SubscribeAsync(receiver.Url);
            (subscription, secret) = (created.Subscription.Id, created.Secret);
            reservation = await buyer.SubmitAndCancelAsync();
            before = await Eventually.Until(() => buyer.DeliveriesAsync(subscription),
                log => log.Count == 2 && log[0].Attempts >= 1, WebhookBuyer.Patience, "both changes logged and the first tried");
        }

        before.ShouldAllBe(d => d.Status == "Pending");
        before[0].LastError.ShouldNotBeNull();
        await using (await receiver.StartAsync())
        await using (var second = new OrderingRun(database, virtualHost))
        {
            using var buyer = new WebhookBuyer(Client(second, tenant));

            var received = await WebhookBuyer.AcceptedAsync(receiver, reservation, count: 2);

            received.Select(r => r.To).ShouldBe(["Screening", "Cancelled"]);
            received.Select(r => r.Id).ShouldBe(before.Select(d => d.EventId));
            received.ShouldAllBe(r => r.SignatureVerifies(secret));
            (await buyer.DeliveriesAsync(subscription)).ShouldAllBe(d => d.Status == "Delivered");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (database.Length > 0)
        {
            await TestInfrastructure.DropDatabaseAsync(database);
        }

        if (virtualHost is not null)
        {
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
        }
    }

    private static HttpClient Client(OrderingRun run, string tenant)
    {
        var client = run.CreateClient();
        TestCatalogue.LoadInto(run.Services);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestTokens.Buyer(tenant));
        return client;
    }
}
