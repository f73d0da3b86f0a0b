using Brokering.Testing.Installation;
using Brokering.Contracts.Grpc.Ordering;
using Grpc.Core;
using Shouldly;
using GrpcReservationLine = Brokering.Contracts.Grpc.Ordering.ReservationLine;

namespace Brokering.EndToEnd.Tests;

/// <summary>
/// <c>brokering.ordering.v1.Reservations/Watch</c> as a buyer's system uses it: one call that follows a
/// reservation from submission to its end, and that shows nothing of reservations that are not the caller's.
/// </summary>
public sealed class GrpcWatchTests(SystemUnderTest system) : IClassFixture<SystemUnderTest>
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";

    /// <summary>A bound on a stream that should end by itself; only reached if it does not.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Watching_an_auto_confirmed_reservation_streams_its_statuses_in_saga_order_and_completes_when_it_is_confirmed()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await system.PublishSnapshotAsync("arrow", 1, Sku, "HKG-1", 100, 31000m, cancellationToken);

        using var channel = BrokeringSystem.GrpcChannelTo(system.Ordering);
        var reservations = new Reservations.ReservationsClient(channel);
        const string buyer = "watch-buyer";
        var submitted = await reservations.SubmitAsync(Submission("PO-WATCH-1", quantity: 12, Confirmation.Auto),
            BrokeringSystem.BuyerMetadata(buyer), cancellationToken: cancellationToken);

        var statuses = new List<string>();
        using (var watch = reservations.Watch(new GetReservationRequest { Id = submitted.Id }, BrokeringSystem.BuyerMetadata(buyer),
            deadline: DateTime.UtcNow + Patience, cancellationToken: cancellationToken))
        {
            // Reading to the end without an exception is the proof that the server completed the stream itself
            // (a deadline would surface as DeadlineExceeded).
            await foreach (var view in watch.ResponseStream.ReadAllAsync(cancellationToken))
            {
                view.Id.ShouldBe(submitted.Id);
                statuses.Add(view.Status);
                if (view.Status == "Confirmed")
                {
                    view.Lines[0].Allocated.ShouldBe(12);
                }
            }

            watch.GetStatus().StatusCode.ShouldBe(StatusCode.OK);
        }

        // The saga's own record of where the reservation went; the stream samples it, so it may skip a
        // status that lasted less than one poll, but never reorders, repeats or invents one.
        var history = await system.Scramble().GetAsync(buyer, Guid.Parse(submitted.Id), cancellationToken);
        List<string> sagaOrder = ["Submitted", .. history.GetProperty("history").EnumerateArray().Select(step => step.GetProperty("to").GetString()!)];
        sagaOrder.ShouldBe(["Submitted", "Screening", "Allocating", "Confirming", "Confirmed"], $"{history}\n{system.Logs}");

        statuses.ShouldNotBeEmpty();
        statuses[^1].ShouldBe("Confirmed", string.Join(" → ", statuses));
        var positions = statuses.Select(status => sagaOrder.IndexOf(status)).ToList();
        positions.ShouldAllBe(position => position >= 0, string.Join(" → ", statuses));
        positions.ShouldBe(positions.Order().Distinct().ToList(), $"statuses out of saga order or repeated: {string.Join(" → ", statuses)}");
    }

    [Fact]
    public async Task Watching_another_buyers_reservation_fails_with_not_found()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var channel = BrokeringSystem.GrpcChannelTo(system.Ordering);
        var reservations = new Reservations.ReservationsClient(channel);
        var owned = await reservations.SubmitAsync(Submission("PO-WATCH-2", quantity: 1, Confirmation.Manual),
            BrokeringSystem.BuyerMetadata("watch-owner"), cancellationToken: cancellationToken);

        var refused = await Should.ThrowAsync<RpcException>(() =>
            ReadToEndAsync(reservations, owned.Id, "watch-stranger", cancellationToken));

        refused.StatusCode.ShouldBe(StatusCode.NotFound);
    }

    [Fact]
    public async Task Watching_an_unknown_reservation_id_fails_with_not_found()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var channel = BrokeringSystem.GrpcChannelTo(system.Ordering);
        var reservations = new Reservations.ReservationsClient(channel);

        var refused = await Should.ThrowAsync<RpcException>(() =>
            ReadToEndAsync(reservations, Guid.NewGuid().ToString(), "watch-owner", cancellationToken));

        refused.StatusCode.ShouldBe(StatusCode.NotFound);
    }

    private static async Task<List<string>> ReadToEndAsync(
        Reservations.ReservationsClient reservations, string id, string buyer, CancellationToken cancellationToken)
    {
        using var watch = reservations.Watch(new GetReservationRequest { Id = id }, BrokeringSystem.BuyerMetadata(buyer),
            deadline: DateTime.UtcNow + Patience, cancellationToken: cancellationToken);
        var statuses = new List<string>();
        await foreach (var view in watch.ResponseStream.ReadAllAsync(cancellationToken))
        {
            statuses.Add(view.Status);
        }

        return statuses;
    }

    private static SubmitReservationRequest Submission(string reference, long quantity, Confirmation confirmation) => new()
    {
        BuyerReference = reference,
        EndUser = new EndUser { Name = "Acme Cloud Inc.", Country = "US" },
        DestinationCountry = "US",
        FillPolicy = FillPolicy.AllOrNone,
        Confirmation = confirmation,
        Lines = { new GrpcReservationLine { Sku = Sku, Quantity = quantity, MaxUnitPrice = 32_000m, Currency = "USD" } },
    };
}
