using Brokering.Contracts.Grpc;
using System.Net;
using Brokering.Contracts.Grpc.Compliance;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Inventory;
using Brokering.Testing;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using GrpcOutcome = Brokering.Contracts.Grpc.Compliance.ScreeningOutcome;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>
/// Compliance and inventory stood in for by one in-process gRPC server (HTTP/2, a port of its own), each of which
/// a test can take down: while down, every call fails with UNAVAILABLE, as it does against a service that is not
/// running, so ordering's retries and durable redeliveries are what carry the reservation through.
/// </summary>
public sealed class StandInDependencies : IAsyncDisposable
{
    private WebApplication? app;

    public StandInCompliance Compliance { get; } = new();

    public StandInInventory Inventory { get; } = new();

    public Uri Address { get; private set; } = null!;

    public static async Task<StandInDependencies> StartAsync()
    {
        var dependencies = new StandInDependencies();
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        // The test's output folder holds ordering's appsettings.json, whose Kestrel endpoints are not ours to take.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(dependencies.Compliance);
        builder.Services.AddSingleton(dependencies.Inventory);
        dependencies.app = builder.Build();
        dependencies.app.MapGrpcService<StandInCompliance>();
        dependencies.app.MapGrpcService<StandInInventory>();
        await dependencies.app.StartAsync();
        dependencies.Address = new Uri($"http://127.0.0.1:{port}");
        return dependencies;
    }

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }
    }

    /// <summary>The failure a caller sees from a service that is down.</summary>
    internal static RpcException Unavailable(string service) => new(new Status(StatusCode.Unavailable, $"{service} is down (test outage)"));
}

/// <summary>
/// Compliance approving every screening with the cutoff the test sets, except end users the test has listed,
/// whom it denies.
/// </summary>
public sealed class StandInCompliance : Contracts.Grpc.Compliance.Compliance.ComplianceBase
{
    public const string Sku = "NVIDIA-H20-96GB";

    private readonly HashSet<string> listed = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> drawsFor = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> resembling = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (long Generation, DateTimeOffset? Cutoff)> decisions = new(StringComparer.Ordinal);
    private long generation;
    private DateTimeOffset? cutoff;
    private int refused;
    private int vouchesRefused;
    private int vouches;

    /// <summary>While true every call fails with UNAVAILABLE.</summary>
    public bool Down { get; set; }

    /// <summary>
    /// The cutoff every approval carries (none: the sale needs no licence at any time). Setting it is a rule change:
    /// decisions taken before it no longer vouch for a commit (as the real compliance's, once a later rule set is in
    /// effect), whether or not the saga was told.
    /// </summary>
    public DateTimeOffset? Cutoff
    {
        get { lock (decisions) { return cutoff; } }
        set { lock (decisions) { cutoff = value; generation++; } }
    }

    /// <summary>
    /// How long an approval's own vouch (ScreenResponse.vouched_until, as the real compliance gives it) lasts from the
    /// screening; null: approvals come without one, and every commit asks VouchForDecision.
    /// </summary>
    public TimeSpan? VouchWithDecisionFor { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>VouchForDecision calls answered.</summary>
    public int Vouches => Volatile.Read(ref vouches);

    /// <summary>Commits the gate refused to vouch for because the rules changed after their decision.</summary>
    public int VouchesRefused => Volatile.Read(ref vouchesRefused);

    /// <summary>Calls refused because compliance was down.</summary>
    public int Refused => Volatile.Read(ref refused);

    /// <summary>
    /// Screenings of reservations for this end user draw licence units (ScreenResponse.licence_units_drawn), as the real
    /// compliance's do when a licence on file covers the sale; every other screening says it drew none, as the real one's
    /// do when no licence is involved.
    /// </summary>
    public void DrawLicenceUnitsFor(string endUser)
    {
        lock (drawsFor)
        {
            drawsFor.Add(endUser);
        }
    }

    /// <summary>Screenings of reservations for this end user find a potential match: an officer must review them.</summary>
    public void Resemble(string endUser)
    {
        lock (resembling)
        {
            resembling.Add(endUser);
        }
    }

    public void List(string endUser)
    {
        lock (listed)
        {
            listed.Add(endUser);
        }
    }

    public override Task<ScreenResponse> Screen(ScreenRequest request, ServerCallContext context)
    {
        ThrowIfDown();
        bool denied;
        lock (listed)
        {
            denied = listed.Contains(request.EndUser.Name);
        }

        bool resembles;
        lock (resembling)
        {
            resembles = !denied && resembling.Contains(request.EndUser.Name);
        }

        var outcome = denied ? GrpcOutcome.Denied : resembles ? GrpcOutcome.PotentialMatch : GrpcOutcome.Approved;
        var decisionId = Guid.NewGuid().ToString();
        DateTimeOffset? decidedCutoff;
        lock (decisions)
        {
            decidedCutoff = cutoff;
            decisions[decisionId] = (denied ? -1 : generation, cutoff);
        }

        bool draws;
        lock (drawsFor)
        {
            draws = !denied && drawsFor.Contains(request.EndUser.Name);
        }

        var response = new ScreenResponse { DecisionId = decisionId, Outcome = outcome, LicenceUnitsDrawn = draws };
        if (denied)
        {
            // Worded as the real compliance's evidence once was, score and all: whatever ordering shows the buyer must not carry it.
            response.Reasons.Add($"the end user '{request.EndUser.Name}' matches '{request.EndUser.Name} Institute' on the Entity List (as '{request.EndUser.Name}', score 0.912 ≥ 0.85)");
        }

        var lineCutoff = decidedCutoff is { } at ? Timestamp.FromDateTimeOffset(at) : null;
        foreach (var line in request.Lines)
        {
            // A potential match is about a party, not a line: the lines themselves are approvable.
            response.Lines.Add(new LineDecision { Sku = line.Sku, Outcome = denied ? GrpcOutcome.Denied : GrpcOutcome.Approved, Cutoff = lineCutoff });
        }

        response.EarliestCutoff = lineCutoff;
        if (outcome == GrpcOutcome.Approved && VouchWithDecisionFor is { } window)
        {
            response.VouchedUntil = Timestamp.FromDateTimeOffset(VouchBound(DateTimeOffset.UtcNow, window, decidedCutoff));
        }

        return Task.FromResult(response);
    }

    /// <summary>How long an answer given at <paramref name="now"/> vouches: the window, and never past the decision's cutoff.</summary>
    private static DateTimeOffset VouchBound(DateTimeOffset now, TimeSpan window, DateTimeOffset? cutoff) =>
        cutoff is { } decided && decided < now + window ? decided : now + window;

    /// <summary>Vouches for an approval taken under the rules still in force, for three seconds at most.</summary>
    public override Task<VouchForDecisionResponse> VouchForDecision(VouchForDecisionRequest request, ServerCallContext context)
    {
        ThrowIfDown();
        Interlocked.Increment(ref vouches);
        var now = DateTimeOffset.UtcNow;
        lock (decisions)
        {
            if (!decisions.TryGetValue(request.DecisionId, out var decision))
            {
                throw new RpcException(new Status(StatusCode.NotFound, $"No decision {request.DecisionId}."));
            }

            if (decision.Generation != generation)
            {
                Interlocked.Increment(ref vouchesRefused);
                return Task.FromResult(new VouchForDecisionResponse { Current = false, Reason = "The rules changed after the decision." });
            }

            var until = VouchBound(now, TimeSpan.FromSeconds(3), decision.Cutoff);
            return Task.FromResult(new VouchForDecisionResponse { Current = true, ValidUntil = Timestamp.FromDateTimeOffset(until) });
        }
    }

    public override Task<ListCatalogueResponse> ListCatalogue(ListCatalogueRequest request, ServerCallContext context)
    {
        ThrowIfDown();
        return Task.FromResult(new ListCatalogueResponse { Skus = { Sku } });
    }

    private void ThrowIfDown()
    {
        if (Down)
        {
            Interlocked.Increment(ref refused);
            throw StandInDependencies.Unavailable("compliance");
        }
    }
}

/// <summary>
/// Inventory with one distributor that always has stock: it holds, commits (all named holds or none, strictly before
/// the cutoff it is given) and releases like the real ledger, and reports holds placed and committed on the broker
/// as the real one does from its outbox.
/// </summary>
public sealed class StandInInventory : HoldsLedger.HoldsLedgerBase
{
    private readonly object gate = new();
    private readonly Dictionary<Guid, StandInHold> holds = [];
    private readonly Dictionary<(string Reservation, int Plan), PlaceHoldsResponse> plans = [];
    private readonly List<string> releasesReceived = [];
    private readonly Dictionary<Guid, int> plansRefusedThrough = [];
    private int refused;

    /// <summary>Where holds placed and committed are reported (the ordering host's broker).</summary>
    public IPublishEndpoint Events { get; set; } = null!;

    /// <summary>While true every call fails with UNAVAILABLE.</summary>
    public bool Down { get; set; }

    /// <summary>While true commits fail with UNAVAILABLE (inventory is overloaded on its commit path).</summary>
    public bool CommitsDown { get; set; }

    /// <summary>
    /// When set, the next PlaceHolds call places its holds but neither its answer nor its HoldsPlaced gets out, as when
    /// the caller's replica dies with the call: the caller sees UNAVAILABLE, and a repeat is answered from the plan.
    /// </summary>
    public bool LoseNextPlacementAnswer { get; set; }

    /// <summary>As <see cref="LoseNextPlacementAnswer"/>, for the next CommitHolds call that commits.</summary>
    public bool LoseNextCommitAnswer { get; set; }

    /// <summary>Calls refused because inventory was down.</summary>
    public int Refused => Volatile.Read(ref refused);

    /// <summary>The holds of a reservation, as inventory knows them now (copies).</summary>
    public IReadOnlyList<StandInHold> HoldsOf(Guid reservationId)
    {
        lock (gate)
        {
            return [.. holds.Values.Where(hold => hold.ReservationId == reservationId)
                .Select(hold => new StandInHold(hold.HoldId, hold.ReservationId, hold.Quantity)
                {
                    Status = hold.Status, CommittedAt = hold.CommittedAt, BuyerOrganisation = hold.BuyerOrganisation,
                })];
        }
    }

    /// <summary>
    /// Takes back a reservation's active holds, as a distributor's feed falling short does, and returns them; the saga
    /// is told only by <see cref="TellShortfallAsync"/>, so a test can choose what it hears first.
    /// </summary>
    public IReadOnlyList<Guid> TakeBack(Guid reservationId)
    {
        lock (gate)
        {
            var taken = holds.Values.Where(hold => hold.ReservationId == reservationId && hold.Status == StandInHoldStatus.Active).ToList();
            taken.ForEach(hold => hold.Status = StandInHoldStatus.Released);
            return [.. taken.Select(hold => hold.HoldId)];
        }
    }

    /// <summary>Reports holds taken back, as the real ledger does from its outbox.</summary>
    public Task TellShortfallAsync(Guid reservationId, IReadOnlyList<Guid> holdIds, long units) =>
        Events.Publish(new StockShortfallDetected(reservationId, StandInCompliance.Sku, "arrow", holdIds, units));

    /// <summary>The highest plan version a release of the reservation told inventory to refuse (0: none).</summary>
    public int PlansRefusedThrough(Guid reservationId)
    {
        lock (gate)
        {
            return plansRefusedThrough.GetValueOrDefault(reservationId);
        }
    }

    /// <summary>Reservations a ReleaseHolds call reached inventory for, in order.</summary>
    public IReadOnlyList<string> ReleasesReceived
    {
        get
        {
            lock (gate)
            {
                return [.. releasesReceived];
            }
        }
    }

    public override Task<GetOffersResponse> GetOffers(GetOffersRequest request, ServerCallContext context)
    {
        ThrowIfDown();
        return Task.FromResult(new GetOffersResponse
        {
            Offers =
            {
                new Offer
                {
                    DistributorId = "arrow", Warehouse = "HKG-1", Available = 100_000, UnitPrice = 15_000m, Currency = "USD",
                    LeadTimeDays = 3, MinimumOrderQuantity = 1, AsOf = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                },
            },
        });
    }

    public override async Task<PlaceHoldsResponse> PlaceHolds(PlaceHoldsRequest request, ServerCallContext context)
    {
        ThrowIfDown();
        var reservationId = Guid.Parse(request.ReservationId);
        PlaceHoldsResponse response;
        lock (gate)
        {
            if (plans.TryGetValue((request.ReservationId, request.PlanVersion), out var replay))
            {
                return new PlaceHoldsResponse { Holds = { replay.Holds }, Replayed = true };
            }

            // As the real ledger: a plan an ending release refused was recorded as having held nothing.
            if (plansRefusedThrough.GetValueOrDefault(reservationId) >= request.PlanVersion)
            {
                return new PlaceHoldsResponse { Replayed = true };
            }

            response = new PlaceHoldsResponse();
            foreach (var wanted in request.Holds)
            {
                var hold = new StandInHold(Guid.NewGuid(), reservationId, wanted.Quantity) { BuyerOrganisation = request.BuyerOrganisation };
                holds.Add(hold.HoldId, hold);
                response.Holds.Add(new Contracts.Grpc.Inventory.PlacedHold
                {
                    HoldId = hold.HoldId.ToString(), Sku = wanted.Sku, DistributorId = wanted.DistributorId, Warehouse = wanted.Warehouse,
                    Requested = wanted.Quantity, Held = wanted.Quantity, UnitPrice = 15_000m, Currency = "USD", ExpiresAt = request.ExpiresAt,
                });
            }

            plans.Add((request.ReservationId, request.PlanVersion), response);
            if (LoseNextPlacementAnswer)
            {
                LoseNextPlacementAnswer = false;
                throw StandInDependencies.Unavailable("inventory (placed, answer lost)");
            }
        }

        await Events.Publish(new HoldsPlaced(reservationId, request.PlanVersion,
            [.. response.Holds.Select(h => new Contracts.Inventory.PlacedHold(
                Guid.Parse(h.HoldId), h.Sku, h.DistributorId, h.Warehouse, h.Requested, h.Held, h.UnitPrice, h.Currency))],
            request.ExpiresAt.ToDateTimeOffset()), context.CancellationToken);
        return response;
    }

    public override async Task<CommitHoldsResponse> CommitHolds(CommitHoldsRequest request, ServerCallContext context)
    {
        ThrowIfDown();
        if (CommitsDown)
        {
            Interlocked.Increment(ref refused);
            throw StandInDependencies.Unavailable("inventory's commit path");
        }

        var reservationId = Guid.Parse(request.ReservationId);
        var now = DateTimeOffset.UtcNow;
        List<StandInHold> committed;
        int newlyCommitted;
        lock (gate)
        {
            var named = request.HoldIds.Select(Guid.Parse).Select(id => holds.GetValueOrDefault(id)).ToList();
            if (named.Count == 0 || named.Any(hold => hold is null || hold.ReservationId != reservationId || hold.Status == StandInHoldStatus.Released))
            {
                throw CommitRefused("Nothing to commit: its holds are released.", CommitRefusalTrailer.HoldsUnavailable);
            }

            // As the real ledger: a repeat of a commit that landed is answered even after the deadline; nothing new commits.
            if (now >= request.CommitBefore.ToDateTimeOffset() && named.Any(hold => hold!.Status == StandInHoldStatus.Active))
            {
                throw CommitRefused("The cutoff has passed; nothing was committed.", CommitRefusalTrailer.DeadlinePassed);
            }

            committed = [.. named.Select(hold => hold!)];
            newlyCommitted = committed.Count(hold => hold.Status == StandInHoldStatus.Active);
            foreach (var hold in committed.Where(hold => hold.Status == StandInHoldStatus.Active))
            {
                hold.Status = StandInHoldStatus.Committed;
                hold.CommittedAt = now;
            }

            if (newlyCommitted > 0 && LoseNextCommitAnswer)
            {
                LoseNextCommitAnswer = false;
                throw StandInDependencies.Unavailable("inventory (committed, answer lost)");
            }
        }

        if (newlyCommitted == 0)
        {
            // A repeat: the HoldsCommitted of the commit that landed was published then.
            var repeat = new CommitHoldsResponse
            {
                Units = committed.Sum(hold => hold.Quantity),
                CommittedAt = Timestamp.FromDateTimeOffset(committed.Max(hold => hold.CommittedAt!.Value)),
            };
            repeat.HoldIds.AddRange(committed.Select(hold => hold.HoldId.ToString()));
            return repeat;
        }

        await Events.Publish(new HoldsCommitted(reservationId, [.. committed.Select(hold => hold.HoldId)], committed.Sum(hold => hold.Quantity), now),
            context.CancellationToken);
        var response = new CommitHoldsResponse { Units = committed.Sum(hold => hold.Quantity), CommittedAt = Timestamp.FromDateTimeOffset(now) };
        response.HoldIds.AddRange(committed.Select(hold => hold.HoldId.ToString()));
        return response;
    }

    private static RpcException CommitRefused(string detail, string refusal) =>
        new(new Status(StatusCode.FailedPrecondition, detail), new Metadata { { CommitRefusalTrailer.Key, refusal } });

    public override Task<ReleaseHoldsResponse> ReleaseHolds(ReleaseHoldsRequest request, ServerCallContext context)
    {
        ThrowIfDown();
        var reservationId = Guid.Parse(request.ReservationId);
        var revokeFrom = request.RevokeCommitsFrom?.ToDateTimeOffset();
        var released = 0;
        lock (gate)
        {
            releasesReceived.Add(request.ReservationId);
            if (request.RefusePlansThrough > plansRefusedThrough.GetValueOrDefault(reservationId))
            {
                plansRefusedThrough[reservationId] = request.RefusePlansThrough;
            }

            foreach (var hold in holds.Values.Where(hold => hold.ReservationId == reservationId))
            {
                if (hold.Status == StandInHoldStatus.Active
                    || (hold.Status == StandInHoldStatus.Committed && revokeFrom is { } from && hold.CommittedAt >= from))
                {
                    hold.Status = StandInHoldStatus.Released;
                    released++;
                }
            }
        }

        return Task.FromResult(new ReleaseHoldsResponse { Released = released });
    }

    private void ThrowIfDown()
    {
        if (Down)
        {
            Interlocked.Increment(ref refused);
            throw StandInDependencies.Unavailable("inventory");
        }
    }
}

public enum StandInHoldStatus
{
    Active,
    Committed,
    Released,
}

/// <summary>A hold in the stand-in inventory.</summary>
public sealed class StandInHold(Guid holdId, Guid reservationId, long quantity)
{
    public Guid HoldId { get; } = holdId;

    public Guid ReservationId { get; } = reservationId;

    public long Quantity { get; } = quantity;

    public StandInHoldStatus Status { get; set; }

    public DateTimeOffset? CommittedAt { get; set; }

    /// <summary>The buyer organisation the PlaceHolds call named (empty when it named none).</summary>
    public string BuyerOrganisation { get; init; } = string.Empty;
}
