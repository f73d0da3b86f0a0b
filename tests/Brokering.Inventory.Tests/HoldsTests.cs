using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Inventory;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using static Brokering.Inventory.Tests.InventoryFixture;

namespace Brokering.Inventory.Tests;

public sealed class HoldsTests(InventoryFixture fixture)
{
    private const string A800 = "NVIDIA-A800-SXM4-80GB";
    private const string H800 = "NVIDIA-H800-SXM5-80GB";

    [Fact]
    public async Task Placing_holds_takes_at_most_what_is_available_and_honours_price_ceiling_and_minimum_order()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 10, Price: 9000m), new Stock(A800, "HK", 10, Price: 9500m), new Stock(H800, "SG1", 3, Price: 25000m, Moq: 5));

        var placed = await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(10),
            Hold(distributor, A800, "SG1", 25),
            Hold(distributor, A800, "HK", 4, maxUnitPrice: 9000m),
            Hold(distributor, H800, "SG1", 10)));

        placed.Replayed.ShouldBeFalse();
        placed.Holds.Select(h => h.Held).ShouldBe([10L, 0L, 0L]);
        placed.Holds[0].Requested.ShouldBe(25);
        placed.Holds[0].UnitPrice.ToDecimal().ShouldBe(9000m);
        placed.Holds[0].HoldId.ShouldNotBeEmpty();
        placed.Holds[1].HoldId.ShouldBeEmpty();
        var level = await fixture.LevelAsync(distributor, A800, "SG1");
        level.Held.ShouldBe(10);
        level.ActiveHolds.ShouldBe(10);
        (await fixture.LevelAsync(distributor, A800, "HK")).Held.ShouldBe(0);
        (await fixture.LevelAsync(distributor, H800, "SG1")).Held.ShouldBe(0);
    }

    [Fact]
    public async Task A_partial_hold_below_the_minimum_order_quantity_holds_nothing()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 12, Moq: 5));
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(10), Hold(distributor, A800, "SG1", 9)));

        var second = await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(10), Hold(distributor, A800, "SG1", 9)));

        second.Holds.Single().Held.ShouldBe(0);
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(9);
    }

    [Fact]
    public async Task Placing_holds_again_for_the_same_reservation_and_plan_version_replays_the_result_on_either_replica()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 100));
        var reservation = Guid.NewGuid();
        var request = PlaceRequest(reservation, 3, TimeSpan.FromMinutes(10), Hold(distributor, A800, "SG1", 30));

        var first = await fixture.A.Ledger.PlaceHoldsAsync(request);
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => (i % 2 == 0 ? fixture.A : fixture.B).Ledger.PlaceHoldsAsync(request).ResponseAsync));

        first.Replayed.ShouldBeFalse();
        concurrent.ShouldAllBe(r => r.Replayed);
        concurrent.ShouldAllBe(r => r.Holds.Single().HoldId == first.Holds.Single().HoldId && r.Holds.Single().Held == 30);
        var level = await fixture.LevelAsync(distributor, A800, "SG1");
        level.Held.ShouldBe(30);
        level.ActiveHolds.ShouldBe(30);
        var placedEvent = await fixture.Events.WaitForAsync<HoldsPlaced>(e => e.ReservationId == reservation);
        placedEvent.PlanVersion.ShouldBe(3);
        placedEvent.Holds.Single().Held.ShouldBe(30);
        await Task.Delay(300);
        fixture.Events.All<HoldsPlaced>(e => e.ReservationId == reservation).Count.ShouldBe(1);
    }

    [Fact]
    public async Task Concurrent_identical_calls_hold_once()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 100));
        var request = PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(10), Hold(distributor, A800, "SG1", 7));

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => (i % 2 == 0 ? fixture.A : fixture.B).Ledger.PlaceHoldsAsync(request).ResponseAsync));

        results.Count(r => !r.Replayed).ShouldBe(1);
        results.Select(r => r.Holds.Single().HoldId).Distinct().Count().ShouldBe(1);
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(7);
    }

    [Fact]
    public async Task Expired_holds_are_released_by_the_service_and_announced()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20));
        var reservation = Guid.NewGuid();
        var placed = await fixture.B.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromSeconds(1), Hold(distributor, A800, "SG1", 8)));
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(8);

        var expired = await fixture.Events.WaitForAsync<HoldsExpired>(e => e.ReservationId == reservation);

        expired.HoldIds.Single().ToString().ShouldBe(placed.Holds.Single().HoldId);
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(0);
        var holds = await fixture.A.Http.GetFromJsonAsync<JsonElement[]>($"/v1/reservations/{reservation}/holds", Json);
        holds!.Single().GetProperty("status").GetString().ShouldBe("Expired");
        await Task.Delay(500);
        fixture.Events.All<HoldsExpired>(e => e.ReservationId == reservation).Count.ShouldBe(1);
    }

    [Fact]
    public async Task Committing_after_the_holds_expired_is_refused()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20));
        var reservation = Guid.NewGuid();
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromSeconds(1), Hold(distributor, A800, "SG1", 5)));
        await fixture.Events.WaitForAsync<HoldsExpired>(e => e.ReservationId == reservation);

        var refusal = await Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(1)),
        }).ResponseAsync);

        refusal.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        refusal.Status.Detail.ShouldContain("expired");
        (await fixture.LevelAsync(distributor, A800, "SG1")).Committed.ShouldBe(0);
    }

    [Fact]
    public async Task Committing_at_or_after_the_cutoff_is_refused()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20));
        var reservation = Guid.NewGuid();
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromMinutes(5), Hold(distributor, A800, "SG1", 5)));

        var refusal = await Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddSeconds(-1)),
        }).ResponseAsync);

        refusal.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(5);
    }

    [Fact]
    public async Task Committing_moves_held_units_to_committed_once_and_a_repeat_returns_the_same_holds_and_commit_instant_even_after_the_cutoff()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20), new Stock(A800, "HK", 20));
        var reservation = Guid.NewGuid();
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromMinutes(5), Hold(distributor, A800, "SG1", 5), Hold(distributor, A800, "HK", 6)));
        var commit = new CommitHoldsRequest { ReservationId = reservation.ToString(), CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(1)) };

        var first = await fixture.A.Ledger.CommitHoldsAsync(commit);
        var again = await fixture.B.Ledger.CommitHoldsAsync(commit);
        var afterCutoff = await fixture.A.Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-1)),
        });

        first.Units.ShouldBe(11);
        afterCutoff.HoldIds.ShouldBe(first.HoldIds);
        first.HoldIds.Count.ShouldBe(2);
        again.HoldIds.ShouldBe(first.HoldIds);
        again.Units.ShouldBe(11);
        var level = await fixture.LevelAsync(distributor, A800, "SG1");
        (level.Held, level.Committed, level.CommittedHolds).ShouldBe((0L, 5L, 5L));
        var committed = await fixture.Events.WaitForAsync<HoldsCommitted>(e => e.ReservationId == reservation);
        committed.Units.ShouldBe(11);
        // The answer says when, as the event does, and a repeat reports the first commit's instant, not its own.
        first.CommittedAt.ToDateTimeOffset().ShouldBe(committed.CommittedAt, TimeSpan.FromMilliseconds(1));
        again.CommittedAt.ShouldBe(first.CommittedAt);
        afterCutoff.CommittedAt.ShouldBe(first.CommittedAt);
        (await fixture.A.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest { ReservationId = reservation.ToString() })).Released.ShouldBe(0);
    }

    [Fact]
    public async Task Committing_named_holds_when_one_of_three_has_expired_commits_none_and_the_refusal_names_it()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20), new Stock(A800, "HK", 20), new Stock(H800, "SG1", 20));
        var reservation = Guid.NewGuid();
        var placed = await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromMinutes(5),
            Hold(distributor, A800, "SG1", 5), Hold(distributor, A800, "HK", 6), Hold(distributor, H800, "SG1", 7)));
        var holdIds = placed.Holds.Select(h => h.HoldId).ToList();
        await fixture.ExecuteSqlAsync("UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = @id", ("id", Guid.Parse(holdIds[1])));

        var refusal = await Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(1)),
            HoldIds = { holdIds },
        }).ResponseAsync);

        refusal.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        refusal.Status.Detail.ShouldContain(holdIds[1]);
        refusal.Status.Detail.ShouldNotContain(holdIds[0]);
        (await fixture.LevelAsync(distributor, A800, "SG1")).Committed.ShouldBe(0);
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(5);
        (await fixture.LevelAsync(distributor, H800, "SG1")).Committed.ShouldBe(0);
    }

    [Fact]
    public async Task Committing_named_holds_that_are_all_active_commits_all_of_them_and_a_repeat_answers_the_same()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20), new Stock(A800, "HK", 20), new Stock(H800, "SG1", 20));
        var reservation = Guid.NewGuid();
        var placed = await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromMinutes(5),
            Hold(distributor, A800, "SG1", 5), Hold(distributor, A800, "HK", 6), Hold(distributor, H800, "SG1", 7)));
        var commit = new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(1)),
            HoldIds = { placed.Holds.Select(h => h.HoldId) },
        };

        var first = await fixture.A.Ledger.CommitHoldsAsync(commit);
        var again = await fixture.B.Ledger.CommitHoldsAsync(commit);

        first.HoldIds.Order().ShouldBe(placed.Holds.Select(h => h.HoldId).Order());
        first.Units.ShouldBe(18);
        again.HoldIds.ShouldBe(first.HoldIds);
        again.Units.ShouldBe(18);
        (await fixture.LevelAsync(distributor, H800, "SG1")).Committed.ShouldBe(7);
        (await fixture.Events.WaitForAsync<HoldsCommitted>(e => e.ReservationId == reservation)).Units.ShouldBe(18);
    }

    [Fact]
    public async Task A_commit_naming_a_hold_an_earlier_commit_made_firm_announces_every_committed_hold_it_named()
    {
        // An earlier commit's answer can be lost (a replica killed after inventory committed): the reservation then
        // plans more and commits its whole set. The event must name the earlier hold too, or the saga, which shows the
        // buyer what the event names, would drop a hold inventory keeps committed.
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20), new Stock(A800, "HK", 20));
        var reservation = Guid.NewGuid();
        var first = (await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromMinutes(5), Hold(distributor, A800, "SG1", 5)))).Holds.Single().HoldId;
        await fixture.A.Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(), CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(1)), HoldIds = { first },
        });
        var second = (await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 2, TimeSpan.FromMinutes(5), Hold(distributor, A800, "HK", 6)))).Holds.Single().HoldId;

        var answer = await fixture.A.Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(), CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(1)), HoldIds = { first, second },
        });

        var announced = await fixture.Events.WaitForAsync<HoldsCommitted>(e => e.ReservationId == reservation && e.HoldIds.Contains(Guid.Parse(second)));
        announced.HoldIds.Select(id => id.ToString()).Order().ShouldBe(answer.HoldIds.Order());
        announced.HoldIds.Select(id => id.ToString()).ShouldContain(first);
        announced.Units.ShouldBe(11);
    }

    [Fact]
    public async Task Releasing_gives_the_units_back_once_and_announces_it()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20));
        var reservation = Guid.NewGuid();
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromMinutes(5), Hold(distributor, A800, "SG1", 12)));

        var first = await fixture.A.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest { ReservationId = reservation.ToString(), Reason = "Buyer cancelled" });
        var again = await fixture.B.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest { ReservationId = reservation.ToString(), Reason = "Buyer cancelled" });

        (first.Released, again.Released).ShouldBe((1, 0));
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(0);
        var released = await fixture.Events.WaitForAsync<HoldsReleased>(e => e.ReservationId == reservation);
        released.Reason.ShouldBe("Buyer cancelled");
        var refusal = await Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(1)),
        }).ResponseAsync);
        refusal.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
    }

    [Fact]
    public async Task A_release_that_ends_a_reservation_makes_a_later_placement_of_its_plans_hold_nothing()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20));
        var reservation = Guid.NewGuid();
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromMinutes(5), Hold(distributor, A800, "SG1", 5)));

        var released = await fixture.A.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest
        {
            ReservationId = reservation.ToString(), Reason = "Buyer cancelled", RefusePlansThrough = 2,
        });

        // Plan 2's call was still on its way (its caller had given up on it, or its attempt was rolled back): it holds nothing.
        var late = await fixture.B.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 2, TimeSpan.FromMinutes(5), Hold(distributor, A800, "SG1", 7)));
        released.Released.ShouldBe(1);
        late.Holds.Sum(h => h.Held).ShouldBe(0);
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(0);
    }

    [Fact]
    public async Task A_placement_racing_the_release_that_ends_its_reservation_never_leaves_a_hold_behind()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 1000));

        // Each pair: a plan's call and the ending release sent together, on either replica; whichever lands first, nothing
        // stays held (a placement that commits after the release would, without the release refusing its plan).
        var pairs = Enumerable.Range(0, 24).Select(async i =>
        {
            var reservation = Guid.NewGuid();
            var placing = (i % 2 == 0 ? fixture.A : fixture.B).Ledger
                .PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromMinutes(5), Hold(distributor, A800, "SG1", 3))).ResponseAsync;
            var releasing = (i % 2 == 0 ? fixture.B : fixture.A).Ledger
                .ReleaseHoldsAsync(new ReleaseHoldsRequest { ReservationId = reservation.ToString(), Reason = "cutoff missed", RefusePlansThrough = 1 }).ResponseAsync;
            await Task.WhenAll(placing, releasing);
        });
        await Task.WhenAll(pairs);

        var level = await fixture.LevelAsync(distributor, A800, "SG1");
        (level.Held, level.ActiveHolds).ShouldBe((0, 0));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(10_001)]
    public async Task A_release_refusing_a_negative_or_absurd_number_of_plans_is_refused_with_invalid_argument(int refusePlansThrough)
    {
        var refusal = await Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest
        {
            ReservationId = Guid.NewGuid().ToString(), RefusePlansThrough = refusePlansThrough,
        }).ResponseAsync);

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("refuse_plans_through");
    }

    [Fact]
    public async Task A_feed_below_what_is_held_flags_the_youngest_holds_as_shortfall()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 30));
        var older = Guid.NewGuid();
        var younger = Guid.NewGuid();
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(older, 1, TimeSpan.FromMinutes(5), Hold(distributor, A800, "SG1", 10)));
        await Task.Delay(20);
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(younger, 1, TimeSpan.FromMinutes(5), Hold(distributor, A800, "SG1", 10)));

        await fixture.DeltaAsync(distributor, 2, new Stock(A800, "SG1", -15));

        var shortfall = await fixture.Events.WaitForAsync<StockShortfallDetected>(e => e.ReservationId == younger);
        shortfall.UnitsShort.ShouldBe(10);
        shortfall.DistributorId.ShouldBe(distributor);
        var level = await fixture.LevelAsync(distributor, A800, "SG1");
        (level.OnHand, level.Held, level.ActiveHolds).ShouldBe((15L, 10L, 10L));
        fixture.Events.All<StockShortfallDetected>(e => e.ReservationId == older).ShouldBeEmpty();
        var holds = await fixture.A.Http.GetFromJsonAsync<JsonElement[]>($"/v1/reservations/{younger}/holds", Json);
        holds!.Single().GetProperty("status").GetString().ShouldBe("Shortfall");
    }

    [Fact]
    public async Task Each_hold_keeps_the_buyer_organisation_its_call_named_even_when_calls_share_a_batch_and_a_level()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 100));
        var calls = new[] { ("acme-servers", Guid.NewGuid()), ("globex", Guid.NewGuid()), ("", Guid.NewGuid()) };

        await Task.WhenAll(calls.Select(async call =>
        {
            var request = PlaceRequest(call.Item2, 1, TimeSpan.FromMinutes(10), Hold(distributor, A800, "SG1", 5));
            request.BuyerOrganisation = call.Item1;
            (await fixture.A.Ledger.PlaceHoldsAsync(request)).Holds.Single().Held.ShouldBe(5);
        }));

        foreach (var (buyer, reservation) in calls)
        {
            var holds = await fixture.A.Http.GetFromJsonAsync<JsonElement[]>($"/v1/reservations/{reservation}/holds", Json);
            var stored = holds!.Single().GetProperty("buyerOrganisation");
            (stored.ValueKind == JsonValueKind.Null ? "" : stored.GetString()).ShouldBe(buyer, "the hold of the call for '" + buyer + "'");
        }
    }

    [Fact]
    public async Task A_buyer_organisation_with_control_characters_is_refused_with_invalid_argument()
    {
        var request = PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(1), Hold("arrow", A800, "SG1", 1));
        request.BuyerOrganisation = "acme\u0000servers";

        var refusal = await Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.PlaceHoldsAsync(request).ResponseAsync);

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("buyerOrganisation");
    }

    [Fact]
    public async Task Invalid_place_holds_requests_are_refused_with_invalid_argument()
    {
        var missingId = Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.PlaceHoldsAsync(new PlaceHoldsRequest { PlanVersion = 1 }).ResponseAsync);
        var past = Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.PlaceHoldsAsync(
            PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(-1), Hold("arrow", A800, "SG1", 1))).ResponseAsync);
        var zero = Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.PlaceHoldsAsync(
            PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(1), Hold("arrow", A800, "SG1", 0))).ResponseAsync);

        (await missingId).StatusCode.ShouldBe(StatusCode.InvalidArgument);
        (await past).Status.Detail.ShouldContain("expiresAt");
        (await zero).Status.Detail.ShouldContain("holds[0].quantity");
    }

    [Fact]
    public async Task Renewing_extends_only_the_reservations_active_unexpired_holds_and_the_sweeper_then_leaves_them_be()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 40), new Stock(H800, "SG1", 40));
        var reservation = Guid.NewGuid();
        var other = Guid.NewGuid();
        var waiting = await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromSeconds(3), Hold(distributor, A800, "SG1", 6)));
        var committed = await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 2, TimeSpan.FromSeconds(3), Hold(distributor, H800, "SG1", 4)));
        await fixture.A.Ledger.CommitHoldsAsync(new CommitHoldsRequest
        {
            ReservationId = reservation.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(1)),
            HoldIds = { committed.Holds.Single().HoldId },
        });
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(other, 1, TimeSpan.FromSeconds(3), Hold(distributor, A800, "SG1", 5)));

        var until = DateTimeOffset.UtcNow.AddMinutes(10);
        var renewed = await fixture.B.Ledger.RenewHoldsAsync(new RenewHoldsRequest { ReservationId = reservation.ToString(), ExpiresAt = Timestamp.FromDateTimeOffset(until) });
        var again = await fixture.A.Ledger.RenewHoldsAsync(new RenewHoldsRequest { ReservationId = reservation.ToString(), ExpiresAt = Timestamp.FromDateTimeOffset(until) });
        var shorter = await fixture.A.Ledger.RenewHoldsAsync(new RenewHoldsRequest
        {
            ReservationId = reservation.ToString(), ExpiresAt = Timestamp.FromDateTimeOffset(until.AddMinutes(-5)),
        });

        renewed.HoldIds.ShouldBe([waiting.Holds.Single().HoldId], "the committed hold is not renewed, nor another reservation's");
        again.HoldIds.ShouldBe(renewed.HoldIds, "a repeat answers the same holds");
        shorter.HoldIds.ShouldBe(renewed.HoldIds, "a hold lasting longer already lasts until then (and is not shortened: see below)");
        var other1 = await fixture.Events.WaitForAsync<HoldsExpired>(e => e.ReservationId == other);
        other1.HoldIds.Count.ShouldBe(1);
        await Task.Delay(TimeSpan.FromSeconds(2));
        fixture.Events.All<HoldsExpired>(e => e.ReservationId == reservation).ShouldBeEmpty();
        var holds = await fixture.A.Http.GetFromJsonAsync<JsonElement[]>($"/v1/reservations/{reservation}/holds", Json);
        var active = holds!.Single(h => h.GetProperty("id").GetString() == waiting.Holds.Single().HoldId);
        active.GetProperty("status").GetString().ShouldBe("Active");
        active.GetProperty("expiresAt").GetDateTimeOffset().ShouldBe(until, TimeSpan.FromMilliseconds(1));
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(6);
    }

    [Fact]
    public async Task A_hold_past_its_expiry_is_not_renewed_and_lapses()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 20));
        var reservation = Guid.NewGuid();
        await fixture.A.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromSeconds(1), Hold(distributor, A800, "SG1", 8)));
        await fixture.Events.WaitForAsync<HoldsExpired>(e => e.ReservationId == reservation);

        var renewed = await fixture.A.Ledger.RenewHoldsAsync(new RenewHoldsRequest
        {
            ReservationId = reservation.ToString(), ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(10)),
        });

        renewed.HoldIds.ShouldBeEmpty();
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(0);
    }

    [Fact]
    public async Task Invalid_renewals_are_refused_with_invalid_argument()
    {
        var reservation = Guid.NewGuid().ToString();
        var missingId = Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.RenewHoldsAsync(new RenewHoldsRequest
        {
            ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(1)),
        }).ResponseAsync);
        var missingExpiry = Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.RenewHoldsAsync(new RenewHoldsRequest { ReservationId = reservation }).ResponseAsync);
        var past = Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.RenewHoldsAsync(new RenewHoldsRequest
        {
            ReservationId = reservation, ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-1)),
        }).ResponseAsync);
        var tooFar = Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.RenewHoldsAsync(new RenewHoldsRequest
        {
            ReservationId = reservation, ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddYears(2)),
        }).ResponseAsync);
        var malformed = Should.ThrowAsync<RpcException>(() => fixture.A.Ledger.RenewHoldsAsync(new RenewHoldsRequest
        {
            ReservationId = reservation, ExpiresAt = new Timestamp { Seconds = long.MaxValue },
        }).ResponseAsync);

        (await missingId).Status.Detail.ShouldContain("reservation_id");
        (await missingExpiry).Status.Detail.ShouldContain("expires_at is required");
        (await past).Status.Detail.ShouldContain("in the future");
        (await tooFar).Status.Detail.ShouldContain("a year ahead");
        (await malformed).Status.Detail.ShouldContain("not a valid timestamp");
        foreach (var refusal in new[] { await missingId, await missingExpiry, await past, await tooFar, await malformed })
        {
            refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        }
    }
}
