using Brokering.Contracts.Ordering;
using Brokering.Ordering.IntegrationTests.Support;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>Inventory learns from ordering which buyer organisation a reservation's holds are for.</summary>
public sealed class HoldBuyerOrganisationTests
{
    [Fact]
    public async Task The_holds_ordering_places_name_the_reservations_buyer_organisation()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);

        var id = await host.SubmitAsync(Confirmation.Manual);

        await host.ReachesAsync(id, "Held");
        var buyer = await host.BuyerOfAsync(id);
        buyer.ShouldNotBeNullOrWhiteSpace();
        var holds = dependencies.Inventory.HoldsOf(id);
        holds.ShouldNotBeEmpty();
        holds.ShouldAllBe(hold => hold.BuyerOrganisation == buyer);
    }
}
