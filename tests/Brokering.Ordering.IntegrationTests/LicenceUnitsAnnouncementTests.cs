using System.Net;
using System.Net.Http.Json;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Compliance is told a reservation ended unconfirmed (<see cref="ReservationEndedUnconfirmed"/>) so that it gives back the
/// licence units it set aside at screening. A reservation compliance may have drawn units for is always announced; one
/// whose every screening was answered at once, each saying it drew nothing, is not: most reservations need no licence,
/// and the announcement would cost a message and a consume for nothing.
/// </summary>
public sealed class LicenceUnitsAnnouncementTests
{
    private const string Licensed = "Licensed Compute Pte. Ltd.";
    private const string Unlicensed = "Plain Compute Pte. Ltd.";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_unconfirmed_end_is_announced_for_a_reservation_compliance_drew_licence_units_for_and_not_for_one_it_drew_none_for()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        dependencies.Compliance.DrawLicenceUnitsFor(Licensed);
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var drewNone = await SubmitHeldAsync(host, Unlicensed);
        var drew = await SubmitHeldAsync(host, Licensed);

        // Ended in this order: by the time the second announcement is in, the first would have been too.
        await CancelAsync(host, drewNone);
        await CancelAsync(host, drew);

        var announced = await host.Probe.WaitForAsync<ReservationEndedUnconfirmed>(m => m.ReservationId == drew);
        announced.Outcome.ShouldBe("Cancelled");
        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(drewNone) == "Cancelled", "the first reservation to end Cancelled");
        host.Probe.All<ReservationEndedUnconfirmed>(m => m.ReservationId == drewNone)
            .ShouldBeEmpty("compliance drew no licence units for it, so it has nothing to give back");
    }

    [Fact]
    public async Task A_reservation_screened_again_by_command_is_announced_even_though_every_answer_it_saw_drew_nothing()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var id = await SubmitHeldAsync(host, Unlicensed);

        // A rule change: the re-screen's answer comes back as a message, which a reservation that has ended by then
        // ignores, so whatever that screening drew is known to the saga only as "may have".
        await host.Probe.Publish.Publish(new RescreenReservation(id, "a rule change in the test"), Ct);
        await host.Probe.WaitForAsync<ScreenReservation>(m => m.ReservationId == id);
        await CancelAsync(host, id);

        (await host.Probe.WaitForAsync<ReservationEndedUnconfirmed>(m => m.ReservationId == id)).Outcome.ShouldBe("Cancelled");
    }

    [Fact]
    public async Task A_reservation_whose_screening_compliance_did_not_answer_at_once_is_announced()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        dependencies.Compliance.Down = true;
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var id = await host.SubmitAsync(Confirmation.Manual, Unlicensed);
        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "Screening", "the reservation to wait in Screening");

        // The call may have reached compliance and been filed, with units drawn, although no answer came back.
        await CancelAsync(host, id);

        (await host.Probe.WaitForAsync<ReservationEndedUnconfirmed>(m => m.ReservationId == id)).Outcome.ShouldBe("Cancelled");
    }

    [Fact]
    public async Task A_reservation_that_waited_for_review_is_announced_although_its_screening_drew_nothing()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        dependencies.Compliance.Resemble(Unlicensed);
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var id = await host.SubmitAsync(Confirmation.Manual, Unlicensed);
        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "UnderReview", "the reservation to wait for review");

        // An officer's clearance screens again and may draw units whenever it comes, after the reservation has ended too:
        // compliance must learn of the end, to give back what that draws and refuse a ruling on it.
        await CancelAsync(host, id);

        (await host.Probe.WaitForAsync<ReservationEndedUnconfirmed>(m => m.ReservationId == id)).Outcome.ShouldBe("Cancelled");
    }

    private static async Task<Guid> SubmitHeldAsync(StandInOrderingHost host, string endUser)
    {
        var id = await host.SubmitAsync(Confirmation.Manual, endUser);
        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(id) == "Held", $"the reservation for {endUser} to be held");
        return id;
    }

    private static async Task CancelAsync(StandInOrderingHost host, Guid id)
    {
        using var buyer = host.ClientWith(TestTokens.Buyer(await host.BuyerOfAsync(id)));
        using var response = await buyer.PostAsJsonAsync(new Uri($"/v1/reservations/{id}/cancel", UriKind.Relative), new { reason = "licence test" }, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(Ct));
    }
}
