using Brokering.Contracts.Grpc.Inventory;
using CsCheck;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using static Brokering.Inventory.Tests.InventoryFixture;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The no-oversell invariant under contention: many PlaceHolds on one hot SKU from two replicas on one
/// database, interleaved with snapshots, deltas, releases and commits. After every step, for the level:
/// held equals the active holds (no unit held twice, none lost), committed equals the committed holds, and
/// active holds + committed never exceed on hand, except where the feed fell below what was committed
/// and every active hold was already flagged as shortfall.
/// </summary>
public sealed class ConcurrencyTests(InventoryFixture fixture)
{
    private const string HotSku = "NVIDIA-H100-SXM5-80GB";

    private sealed record Op(int Kind, bool OnB, int Amount, int Target)
    {
        public override string ToString() => Kind switch
        {
            <= 5 => $"Place({1 + (Amount % 15)}@{(OnB ? "B" : "A")})",
            6 => $"Snapshot({Amount})",
            7 => $"Delta({(Amount / 2) - 15})",
            8 => $"Release(#{Target})",
            _ => $"Commit(#{Target})",
        };
    }

    [Fact]
    public async Task Placing_holds_never_exceeds_on_hand_under_concurrency_interleaved_with_feeds()
    {
        var op = Gen.Select(Gen.Int[0, 9], Gen.Bool, Gen.Int[0, 60], Gen.Int[0, 1000], (kind, onB, amount, target) => new Op(kind, onB, amount, target));
        var scenario = Gen.Select(Gen.Int[10, 60], op.Array[4, 14].Array[3, 6]);

        await scenario.SampleAsync(
            async (initial, steps) =>
            {
                var distributor = await fixture.NewDistributorAsync();
                var sequence = 0L;
                var reservations = new List<Guid>();
                await FeedAsync(fixture.A, distributor, Interlocked.Increment(ref sequence), UpdateKind.Snapshot, initial);
                foreach (var step in steps)
                {
                    await Task.WhenAll(step.Select(o => RunAsync(o, distributor, reservations, () => Interlocked.Increment(ref sequence))));
                    await AssertInvariantAsync(distributor);
                }
            },
            iter: 8,
            threads: 1);
    }

    [Fact]
    public async Task Many_concurrent_holds_on_one_hot_sku_from_two_replicas_hold_exactly_what_is_on_hand()
    {
        var distributor = await fixture.NewDistributorAsync();
        await FeedAsync(fixture.A, distributor, 1, UpdateKind.Snapshot, 150);

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            (i % 2 == 0 ? fixture.A : fixture.B).Ledger.PlaceHoldsAsync(
                PlaceRequest(Guid.NewGuid(), 1, TimeSpan.FromMinutes(5), Hold(distributor, HotSku, "HOT", 1))).ResponseAsync));

        results.Sum(r => r.Holds.Single().Held).ShouldBe(150);
        results.Count(r => r.Holds.Single().Held == 0).ShouldBe(50);
        results.Select(r => r.Holds.Single().HoldId).Where(id => id.Length > 0).Distinct().Count().ShouldBe(150);
        var level = await fixture.LevelAsync(distributor, HotSku, "HOT");
        (level.OnHand, level.Held, level.ActiveHolds).ShouldBe((150L, 150L, 150L));
    }

    private async Task RunAsync(Op op, string distributor, List<Guid> reservations, Func<long> nextSequence)
    {
        var host = op.OnB ? fixture.B : fixture.A;
        switch (op.Kind)
        {
            case <= 5:
                var reservation = Guid.NewGuid();
                lock (reservations)
                {
                    reservations.Add(reservation);
                }

                await host.Ledger.PlaceHoldsAsync(PlaceRequest(reservation, 1, TimeSpan.FromMinutes(5), Hold(distributor, HotSku, "HOT", 1 + (op.Amount % 15))));
                break;
            case 6:
                await FeedAsync(host, distributor, nextSequence(), UpdateKind.Snapshot, op.Amount);
                break;
            case 7:
                await FeedAsync(host, distributor, nextSequence(), UpdateKind.Delta, (op.Amount / 2) - 15);
                break;
            default:
                Guid target;
                lock (reservations)
                {
                    if (reservations.Count == 0)
                    {
                        return;
                    }

                    target = reservations[op.Target % reservations.Count];
                }

                if (op.Kind == 8)
                {
                    await host.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest { ReservationId = target.ToString(), Reason = "test" });
                }
                else
                {
                    try
                    {
                        await host.Ledger.CommitHoldsAsync(new CommitHoldsRequest
                        {
                            ReservationId = target.ToString(),
                            CommitBefore = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(1)),
                        });
                    }
                    catch (RpcException refused) when (refused.StatusCode == StatusCode.FailedPrecondition)
                    {
                        // Released, shortfall or never held: a refusal is a fine answer.
                    }
                }

                break;
        }
    }

    private static async Task FeedAsync(InventoryHost host, string distributor, long sequence, UpdateKind kind, long quantity)
    {
        var item = new StockItem { Sku = HotSku, Warehouse = "HOT", UnitPrice = 30000m, Currency = "USD" };
        if (kind == UpdateKind.Snapshot)
        {
            item.QuantityOnHand = quantity;
        }
        else
        {
            item.QuantityChange = quantity;
        }

        using var call = host.Feeds.Publish(InventoryHost.AsDistributor(distributor));
        await call.RequestStream.WriteAsync(new StockUpdate { DistributorId = distributor, Sequence = sequence, Kind = kind, Items = { item } });
        await call.RequestStream.CompleteAsync();
        await call;
    }

    private async Task AssertInvariantAsync(string distributor)
    {
        var level = await fixture.LevelAsync(distributor, HotSku, "HOT");
        level.Held.ShouldBe(level.ActiveHolds, $"held units must equal the active holds: {level}");
        level.Committed.ShouldBe(level.CommittedHolds, $"committed units must equal the committed holds: {level}");
        (level.Held + level.Committed <= level.OnHand || level.Held == 0).ShouldBeTrue($"active holds + committed exceed on hand: {level}");
    }
}
