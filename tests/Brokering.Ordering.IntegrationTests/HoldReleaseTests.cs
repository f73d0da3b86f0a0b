using System.Net;
using System.Net.Http.Json;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// A reservation that ends holding stock gives it back at once: the saga asks inventory in the transaction that ends
/// the reservation, and sends <see cref="ReleaseReservationHolds"/> for its retrying consumer only when inventory does
/// not answer. On real PostgreSQL and RabbitMQ, with the stand-in inventory.
/// </summary>
public sealed class HoldReleaseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_cancelled_reservation_has_its_holds_released_within_the_cancellation_and_its_plans_refused_and_no_release_command_is_sent()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var id = await host.SubmitAsync(Confirmation.Manual);
        await host.ReachesAsync(id, "Held");
        var placed = dependencies.Inventory.HoldsOf(id);
        placed.ShouldNotBeEmpty();

        await CancelAsync(host, id);

        await host.ReachesAsync(id, "Cancelled");
        // Released by the time the reservation shows Cancelled: the release was part of the transaction that ended it.
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Released);
        dependencies.Inventory.ReleasesReceived.Count(reservation => reservation == id.ToString()).ShouldBe(1);
        // Its one plan, and the next version an attempt rolled back since might have asked for, can hold nothing more.
        dependencies.Inventory.PlansRefusedThrough(id).ShouldBe(2);
        // A command would have been published before the transaction committed; the probe has had a second more.
        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        host.Probe.All<ReleaseReservationHolds>(release => release.ReservationId == id).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_release_inventory_cannot_take_at_once_is_sent_as_its_command_and_carried_out_once_inventory_is_back()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var id = await host.SubmitAsync(Confirmation.Manual);
        await host.ReachesAsync(id, "Held");
        dependencies.Inventory.Down = true;

        await CancelAsync(host, id);

        await host.ReachesAsync(id, "Cancelled");
        await host.Probe.WaitForAsync<ReleaseReservationHolds>(release => release.ReservationId == id);
        dependencies.Inventory.HoldsOf(id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Active);
        dependencies.Inventory.Down = false;

        await StandInOrderingHost.EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.HoldsOf(id).All(hold => hold.Status == StandInHoldStatus.Released)),
            "every hold released");
        dependencies.Inventory.PlansRefusedThrough(id).ShouldBe(2);
    }

    private static async Task CancelAsync(StandInOrderingHost host, Guid id)
    {
        using var buyer = host.ClientWith(TestTokens.Buyer(await host.BuyerOfAsync(id)));
        using var response = await buyer.PostAsJsonAsync(new Uri($"/v1/reservations/{id}/cancel", UriKind.Relative), new { reason = "ordered elsewhere" }, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(Ct));
    }
}
