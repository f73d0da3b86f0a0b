using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Ordering;
using Brokering.Messaging.Postgres;
using Brokering.Ordering.Data;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Compliance or inventory down, on real PostgreSQL and RabbitMQ with ordering's real saga and durable scheduler:
/// the saga waits without blocking anyone, the activity is redelivered through the scheduler for as long as it takes,
/// and the cutoff still ends a reservation whose dependency did not come back in time, with its holds released once
/// inventory can be reached again. The stand-ins fail with UNAVAILABLE while down; durations are configuration.
/// </summary>
public sealed class DependencyOutageTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Inventory_down_past_the_in_memory_retries_is_waited_for_through_the_durable_scheduler_and_the_reservation_is_confirmed_once_it_is_back()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await OutageHost.StartAsync(dependencies);
        dependencies.Inventory.Down = true;

        var id = await SubmitAsync(host, Confirmation.Auto);

        // The in-memory retries are spent and the plan waits in the scheduler's table, not in a consumer slot.
        await EventuallyAsync(() => RedeliveryScheduledAsync(host, ":AllocateReservation"), "a scheduled redelivery of the allocation");
        (await StateAsync(host, id)).ShouldBe("Allocating");
        dependencies.Inventory.Refused.ShouldBePositive();
        dependencies.Inventory.HoldsOf(id).ShouldBeEmpty();
        dependencies.Inventory.Down = false;

        await EventuallyAsync(async () => await StateAsync(host, id) == "Confirmed", "the reservation Confirmed");
        var holds = dependencies.Inventory.HoldsOf(id);
        holds.ShouldNotBeEmpty();
        holds.ShouldAllBe(hold => hold.Status == StandInHoldStatus.Committed);
    }

    [Fact]
    public async Task Inventory_down_until_the_cutoff_ends_a_held_reservation_CutoffMissed_and_its_holds_are_released_once_inventory_is_back()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await OutageHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var id = await SubmitAsync(host, Confirmation.Manual);
        await EventuallyAsync(async () => await StateAsync(host, id) == "Held", "the reservation Held");
        var placed = dependencies.Inventory.HoldsOf(id);
        placed.ShouldNotBeEmpty();

        dependencies.Inventory.Down = true;
        // A new rule set brings the cutoff a few seconds ahead, while inventory is unreachable.
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddSeconds(3);
        await host.Probe.Publish.Publish(new RescreenReservation(id, "rule set moved the cutoff"), Ct);

        await EventuallyAsync(async () => await StateAsync(host, id) == "CutoffMissed", "the reservation CutoffMissed");
        await EventuallyAsync(() => RedeliveryScheduledAsync(host, ":ReleaseReservationHolds"), "a scheduled redelivery of the release");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Active);
        dependencies.Inventory.ReleasesReceived.ShouldNotContain(id.ToString());
        dependencies.Inventory.Down = false;

        await EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)),
            "every hold released");
        dependencies.Inventory.ReleasesReceived.ShouldContain(id.ToString());
        dependencies.Inventory.HoldsOf(id).Select(hold => hold.HoldId).Order().ShouldBe(placed.Select(hold => hold.HoldId).Order());
    }

    [Fact]
    public async Task Inventory_down_while_committing_until_the_cutoff_ends_CutoffMissed_with_nothing_committed_and_every_hold_released()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await OutageHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        dependencies.Inventory.CommitsDown = true;
        var id = await SubmitAsync(host, Confirmation.Auto);
        await EventuallyAsync(async () => await StateAsync(host, id) == "Confirming", "the reservation Confirming");
        await EventuallyAsync(() => RedeliveryScheduledAsync(host, ":CommitReservationHolds"), "a scheduled redelivery of the commit");

        dependencies.Inventory.Down = true;
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddSeconds(3);
        await host.Probe.Publish.Publish(new RescreenReservation(id, "rule set moved the cutoff"), Ct);
        await EventuallyAsync(() => RedeliveryScheduledAsync(host, ":ReleaseReservationHolds"), "a scheduled redelivery of the release");
        // Whether a commit landed before the cutoff is inventory's to say, so the saga waits for it.
        (await StateAsync(host, id)).ShouldBe("Confirming");
        dependencies.Inventory.CommitsDown = false;
        dependencies.Inventory.Down = false;

        await EventuallyAsync(async () => await StateAsync(host, id) == "CutoffMissed", "the reservation CutoffMissed");
        await EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)),
            "every hold released");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.CommittedAt == null);
    }

    [Fact]
    public async Task Reservations_waiting_on_a_down_compliance_do_not_hold_up_a_reservation_that_needs_only_inventory_and_resume_once_it_is_back()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await OutageHost.StartAsync(dependencies);
        var ready = await SubmitAsync(host, Confirmation.Manual);
        await EventuallyAsync(async () => await StateAsync(host, ready) == "Held", "the first reservation Held");

        dependencies.Compliance.Down = true;
        // More than an endpoint consumes at once (RabbitMQ prefetch: twice the cores, at most 16): were each waiting in a
        // consumer slot, every slot would be taken.
        var waiting = new List<Guid>();
        for (var i = 0; i < 20; i++)
        {
            waiting.Add(await SubmitAsync(host, Confirmation.Auto));
        }

        await EventuallyAsync(() => RedeliveryScheduledAsync(host, ":ScreenReservation"), "a scheduled redelivery of a screening");
        dependencies.Compliance.Refused.ShouldBePositive();
        using (var buyer = host.ClientWith(TestTokens.Buyer(await BuyerOfAsync(host, ready))))
        {
            using var confirm = await buyer.PostAsync(new Uri($"/v1/reservations/{ready}/confirm", UriKind.Relative), null, Ct);
            confirm.IsSuccessStatusCode.ShouldBeTrue();
        }

        await EventuallyAsync(async () => await StateAsync(host, ready) == "Confirmed", "the ready reservation Confirmed");
        foreach (var id in waiting)
        {
            (await StateAsync(host, id)).ShouldBe("Screening");
        }

        dependencies.Compliance.Down = false;
        foreach (var id in waiting)
        {
            await EventuallyAsync(async () => await StateAsync(host, id) == "Confirmed", $"waiting reservation {id} Confirmed");
        }
    }

    [Fact]
    public async Task A_party_listed_while_the_commit_is_in_flight_ends_Rejected_never_Confirmed_and_its_holds_are_released()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await OutageHost.StartAsync(dependencies);
        dependencies.Inventory.CommitsDown = true;
        var id = await SubmitAsync(host, Confirmation.Auto, endUser: "Acme Research");
        await EventuallyAsync(async () => await StateAsync(host, id) == "Confirming", "the reservation Confirming");

        dependencies.Compliance.List("Acme Research");
        await host.Probe.Publish.Publish(new RescreenReservation(id, "restricted-party list update"), Ct);
        await EventuallyAsync(async () => await StateAsync(host, id) == "Rejected", "the reservation Rejected");
        // The commit, redelivered once inventory's commit path is back, must not confirm it.
        dependencies.Inventory.CommitsDown = false;

        await EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)),
            "every hold released");
        await EventuallyAsync(async () => !await RedeliveryScheduledAsync(host, ":CommitReservationHolds"), "the commit's redeliveries over");
        var saga = await host.SagaAsync(id);
        saga.CurrentState.ShouldBe("Rejected");
        saga.StatusReason!.ShouldContain("restricted-party list");
        saga.History.Select(transition => transition.To).ShouldNotContain("Confirmed");
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Released);
    }

    private static async Task<Guid> SubmitAsync(OrderingHost host, Confirmation confirmation, string endUser = "Lion City Compute Pte. Ltd.")
    {
        using var client = host.ClientWith(TestTokens.Buyer(Sagas.NewBuyer("outage")));
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

    // The saga row appears once the submission has come through the broker; until then there is no state.
    private static async Task<string?> StateAsync(OrderingHost host, Guid id)
    {
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        return await db.Sagas.AsNoTracking().Where(s => s.CorrelationId == id).Select(s => s.CurrentState).SingleOrDefaultAsync(Ct);
    }

    private static async Task<string> BuyerOfAsync(OrderingHost host, Guid id) => (await host.SagaAsync(id)).BuyerId;

    /// <summary>A redelivery of a message of the given type waits in the durable scheduler.</summary>
    private static async Task<bool> RedeliveryScheduledAsync(OrderingHost host, string messageType)
    {
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        return await db.Set<ScheduledMessageRecord>().AsNoTracking()
            .AnyAsync(row => row.CancelledAt == null && row.MessageType.Contains(messageType), Ct);
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Waited {Patience} for {what}.");
            }

            await Task.Delay(200, Ct);
        }
    }

    /// <summary>Ordering against the stand-ins, with failed activities redelivered every few seconds.</summary>
    private sealed class OutageHost(StandInDependencies dependencies) : OrderingHost
    {
        public static async Task<OutageHost> StartAsync(StandInDependencies dependencies)
        {
            var host = new OutageHost(dependencies);
            await host.InitializeAsync();
            dependencies.Inventory.Events = host.Probe.Publish;
            return host;
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Services:Compliance", dependencies.Address.ToString());
            builder.UseSetting("Services:Inventory", dependencies.Address.ToString());
            builder.UseSetting("Ordering:ActivityRetry:InMemoryRetries", "1");
            builder.UseSetting("Ordering:ActivityRetry:InMemoryMinInterval", "00:00:00.100");
            builder.UseSetting("Ordering:ActivityRetry:InMemoryMaxInterval", "00:00:00.500");
            builder.UseSetting("Ordering:ActivityRetry:Redeliveries:0", "00:00:02");
            builder.UseSetting("Ordering:ActivityRetry:RedeliveryRepeatInterval", "00:00:03");
            builder.UseSetting("Ordering:ActivityRetry:RedeliveryRepeats", "400");
        }
    }
}
