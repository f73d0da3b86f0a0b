using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Ordering;
using Brokering.Testing;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>Licence units drawn at screening go back when the reservation ends without being confirmed.</summary>
public sealed class LicenceReleaseTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private const string H100 = "NVIDIA-H100-SXM5-80GB";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("Cancelled")]
    [InlineData("Rejected")]
    [InlineData("Expired")]
    [InlineData("CutoffMissed")]
    public async Task A_reservation_ending_unconfirmed_gives_back_its_licence_units_once_however_often_it_is_told(string ended)
    {
        var (buyer, licenceUrl) = await service.RecordLicenceAsync(H100, "CN", units: 100);
        var reservation = Guid.NewGuid();
        await ScreenAsync(buyer, reservation, 60);
        (await DrawnAsync(licenceUrl)).ShouldBe(60);

        var publisher = await service.StartObserverAsync($"licence-release-tests-{Guid.NewGuid():N}", _ => { });
        try
        {
            var end = new ReservationEndedUnconfirmed(reservation, buyer, ended, "test", DateTimeOffset.UtcNow);
            await publisher.Publish(end, Cancel);
            await publisher.Publish(end, Cancel);

            await EventuallyDrawnAsync(licenceUrl, 0);
            // The units are free again for the buyer's next reservation.
            await ScreenAsync(buyer, Guid.NewGuid(), 100);
            (await DrawnAsync(licenceUrl)).ShouldBe(100);
        }
        finally
        {
            await publisher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_unconfirmed_end_announced_the_old_way_by_an_ordering_not_yet_upgraded_still_gives_back_the_units()
    {
        var (buyer, licenceUrl) = await service.RecordLicenceAsync(H100, "CN", units: 100);
        var confirmed = Guid.NewGuid();
        var cancelled = Guid.NewGuid();
        await ScreenAsync(buyer, confirmed, 30);
        await ScreenAsync(buyer, cancelled, 20);

        var publisher = await service.StartObserverAsync($"licence-release-tests-{Guid.NewGuid():N}", _ => { });
        try
        {
            await publisher.Publish(new ReservationStatusChanged(confirmed, buyer, "Confirming", "Confirmed", null, DateTimeOffset.UtcNow), Cancel);
            await publisher.Publish(new ReservationStatusChanged(cancelled, buyer, "Held", "Cancelled", "test", DateTimeOffset.UtcNow), Cancel);

            await EventuallyDrawnAsync(licenceUrl, 30);
        }
        finally
        {
            await publisher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_confirmed_reservation_keeps_its_licence_units()
    {
        var (buyer, licenceUrl) = await service.RecordLicenceAsync(H100, "CN", units: 100);
        var confirmed = Guid.NewGuid();
        var cancelled = Guid.NewGuid();
        await ScreenAsync(buyer, confirmed, 30);
        await ScreenAsync(buyer, cancelled, 20);

        var publisher = await service.StartObserverAsync($"licence-release-tests-{Guid.NewGuid():N}", _ => { });
        try
        {
            // Ordering announces only the unconfirmed end; the confirmed reservation is never named.
            await publisher.Publish(new ReservationEndedUnconfirmed(cancelled, buyer, "Cancelled", "test", DateTimeOffset.UtcNow), Cancel);

            // The cancelled reservation's units are given back; the confirmed one's stay drawn.
            await EventuallyDrawnAsync(licenceUrl, 30);
        }
        finally
        {
            await publisher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_screening_says_whether_it_set_licence_units_aside_so_ordering_announces_only_ends_that_have_units_to_give_back()
    {
        var (buyer, licenceUrl) = await service.RecordLicenceAsync(H100, "CN", units: 100);

        var licensed = await ScreenAsync(buyer, Guid.NewGuid(), 40);
        var noLicenceOnFile = await ScreenAsync($"{buyer}-other", Guid.NewGuid(), 40, expected: Api.ScreeningOutcome.LicenceRequired);
        var needsNone = await ScreenAsync(buyer, Guid.NewGuid(), 40, destination: "US");

        (licensed.HasLicenceUnitsDrawn, licensed.LicenceUnitsDrawn).ShouldBe((true, true));
        (noLicenceOnFile.HasLicenceUnitsDrawn, noLicenceOnFile.LicenceUnitsDrawn).ShouldBe((true, false));
        (needsNone.HasLicenceUnitsDrawn, needsNone.LicenceUnitsDrawn).ShouldBe((true, false));
        (await DrawnAsync(licenceUrl)).ShouldBe(40);
    }

    [Fact]
    public async Task Screenings_racing_for_one_licence_never_draw_more_units_than_it_grants()
    {
        var (buyer, licenceUrl) = await service.RecordLicenceAsync(H100, "CN", units: 10);

        // Twelve reservations of 3 units each at once: the licence covers three of them, whatever the interleaving.
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(async _ =>
            await service.Grpc.ScreenAsync(Request(buyer, Guid.NewGuid(), 3, "CN"), cancellationToken: Cancel)));

        answers.Count(a => a.Outcome == Api.ScreeningOutcome.Approved).ShouldBe(3, string.Join(", ", answers.Select(a => a.Outcome)));
        answers.Where(a => a.Outcome != Api.ScreeningOutcome.Approved).ShouldAllBe(a => a.Outcome == Api.ScreeningOutcome.LicenceRequired);
        (await DrawnAsync(licenceUrl)).ShouldBe(9);
    }

    private async Task<Api.ScreenResponse> ScreenAsync(
        string buyer, Guid reservation, long quantity, Api.ScreeningOutcome expected = Api.ScreeningOutcome.Approved, string destination = "CN")
    {
        var response = await service.Grpc.ScreenAsync(Request(buyer, reservation, quantity, destination), cancellationToken: Cancel);
        response.Outcome.ShouldBe(expected, string.Join("; ", response.Reasons));
        return response;
    }

    private static Api.ScreenRequest Request(string buyer, Guid reservation, long quantity, string destination)
    {
        var request = new Api.ScreenRequest
        {
            ReservationId = reservation.ToString(),
            BuyerId = buyer,
            EndUser = new Api.Party { Name = "Acme Cloud Pte. Ltd.", Country = "SG" },
            DestinationCountry = destination,
        };
        request.Lines.Add(new Api.ScreenLine { Sku = H100, Quantity = quantity });
        return request;
    }

    private async Task<long> DrawnAsync(Uri licenceUrl) =>
        (await service.Http.GetFromJsonAsync<JsonElement>(licenceUrl, Cancel)).GetProperty("drawn").GetInt64();

    private async Task EventuallyDrawnAsync(Uri licenceUrl, long expected) =>
        (await Eventually.Latest(() => DrawnAsync(licenceUrl), drawn => drawn == expected, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(200), cancellationToken: Cancel))
            .ShouldBe(expected);
}
