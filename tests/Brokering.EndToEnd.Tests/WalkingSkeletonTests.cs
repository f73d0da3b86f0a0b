using Brokering.Testing.Installation;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Grpc.Ordering;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>
/// The thinnest path through all three services, driven only through their public APIs: a
/// distributor publishes stock, a buyer reserves it, compliance screens it over gRPC, inventory
/// holds it over gRPC and says so over RabbitMQ, the buyer confirms, inventory commits.
/// </summary>
public sealed class WalkingSkeletonTests(SystemUnderTest system) : IClassFixture<SystemUnderTest>
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_reservation_is_screened_held_confirmed_and_committed_across_the_three_services()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await system.PublishSnapshotAsync("arrow", 1, Sku, "HKG-1", 100, 31000m, cancellationToken);

        using var buyer = system.Buyer("acme-servers");
        using var submitted = await buyer.PostAsJsonAsync("/v1/reservations",
            ScrambleDriver.Reservation("PO-4711", "Acme Cloud Inc.", "AllOrNone", "Manual", [new Line(Sku, 40, 32000m)], destination: "US", endUserCountry: "US"),
            cancellationToken);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync(cancellationToken));
        var location = submitted.Headers.Location!;

        var held = await WaitForStatusAsync(buyer, location, "Held", cancellationToken);
        var line = held.GetProperty("lines")[0];
        line.GetProperty("allocated").GetInt64().ShouldBe(40);
        line.GetProperty("allocations")[0].GetProperty("distributorId").GetString().ShouldBe("arrow");

        using var confirm = await buyer.PostAsync(new Uri($"{location}/confirm", UriKind.Relative), null, cancellationToken);
        confirm.StatusCode.ShouldBe(HttpStatusCode.Accepted, await confirm.Content.ReadAsStringAsync(cancellationToken));
        var confirmed = await WaitForStatusAsync(buyer, location, "Confirmed", cancellationToken);

        var timeline = confirmed.GetProperty("history").EnumerateArray().Select(step => step.GetProperty("to").GetString()).ToList();
        timeline.ShouldBe(["Screening", "Allocating", "Held", "Confirming", "Confirmed"]);

        // The same reservation through gRPC, as a buyer's system would read it.
        using var channel = BrokeringSystem.GrpcChannelTo(system.Ordering);
        var reservations = new Reservations.ReservationsClient(channel);
        var id = location.ToString().Split('/')[^1];
        var view = await reservations.GetAsync(new GetReservationRequest { Id = id },
            BrokeringSystem.BuyerMetadata("acme-servers"), cancellationToken: cancellationToken);
        view.Status.ShouldBe("Confirmed");
        view.Lines[0].Allocated.ShouldBe(40);
    }

    [Fact]
    public async Task Another_buyer_cannot_see_a_reservation_that_is_not_its_own()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var owner = system.Buyer("owner-buyer");
        using var submitted = await owner.PostAsJsonAsync("/v1/reservations",
            ScrambleDriver.Reservation("PO-1", "Owner Labs", "AllOrNone", "Manual", [new Line(Sku, 1, 1m)], destination: "US", endUserCountry: "US"),
            cancellationToken);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted);

        using var stranger = system.Buyer("stranger-buyer");
        using var peek = await stranger.GetAsync(submitted.Headers.Location, cancellationToken);
        peek.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        peek.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }

    [Theory]
    [InlineData("Lion City Compute Pte. Ltd.", "Pacific Rim Compute Holdings Ltd.", "An export licence is required")]
    [InlineData("In\u0455pur Group (Singapore) Pte. Ltd.", null, "Refused by export screening (decision ")]
    public async Task A_buyer_compliance_registered_is_screened_on_its_own_name_and_parent_when_it_reserves_through_ordering(
        string legalName, string? parentHeadquarteredInChina, string toldTheBuyer)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyerId = $"registered-{Guid.NewGuid():N}"[..24];
        using (var officer = system.ComplianceOfficer())
        {
            using var registered = await officer.PutAsJsonAsync(new Uri($"/v1/buyers/{buyerId}", UriKind.Relative), new
            {
                legalName,
                country = "SG",
                ultimateParent = parentHeadquarteredInChina is null ? null : new { name = parentHeadquarteredInChina, headquartersCountry = "CN" },
            }, cancellationToken);
            registered.StatusCode.ShouldBe(HttpStatusCode.OK, await registered.Content.ReadAsStringAsync(cancellationToken));
        }

        // A sale to Singapore for an end user in Singapore: nothing in the reservation itself needs a licence.
        using var buyer = system.Buyer(buyerId);
        using var submitted = await buyer.PostAsJsonAsync("/v1/reservations",
            ScrambleDriver.Reservation("PO-REGISTERED", "Acme Cloud Pte. Ltd.", "AllOrNone", "Manual", [new Line(Sku, 1, 32000m)], destination: "SG", endUserCountry: "SG"),
            cancellationToken);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync(cancellationToken));

        var rejected = await WaitForStatusAsync(buyer, submitted.Headers.Location!, "Rejected", cancellationToken);
        var reason = rejected.GetProperty("statusReason").GetString()!;
        reason.ShouldStartWith(toldTheBuyer);
        reason.ShouldNotContain("Inspur");
        reason.ShouldNotContain("score");
    }

    private Task<JsonElement> WaitForStatusAsync(HttpClient buyer, Uri location, string status, CancellationToken cancellationToken) =>
        ScrambleDriver.WaitForStatusAsync(buyer, location, status, Patience, () => system.Logs, cancellationToken);
}
