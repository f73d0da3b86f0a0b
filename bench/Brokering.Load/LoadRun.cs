using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Brokering.Invariants;
using Brokering.Testing;
using Brokering.Testing.Scramble;

namespace Brokering.Load;

/// <summary>Where a run stands, reported about once a second.</summary>
public sealed record LoadProgress(
    string Phase, TimeSpan Elapsed, int Submitted, int Accepted, int Throttled, int Failed, int InFlight, int Open, int Ended,
    IReadOnlyDictionary<string, int> States, int FeedUpdates, double LoadAverage);

/// <summary>
/// Plays the scramble once against a <see cref="LoadTarget"/>: sets the scene (a scenario rule set whose cutoff
/// lies beyond the run, the run's own distributors with scarce stock), then offers reservations at the planned
/// rate (open loop) while the distributors' feeds change and, if planned, compliance pulls the cutoff in; buyers
/// follow their reservations through their change feeds (one read per buyer each poll interval, however many are
/// open) and confirm their manual reservations once Held (a few change plans and cancel); when the arrivals stop, buyers
/// still waiting for stock give up, every reservation is followed to its end, the distributors close their
/// books (on hand = committed, so a later run on the same system finds no leftover stock) and the invariants are checked.
/// </summary>
public sealed class LoadRun(LoadPlan plan, LoadTarget target, IProgress<LoadProgress>? progress = null)
{
    private readonly ConcurrentDictionary<Guid, Reservation> reservations = new();

    /// <summary>Each buyer's place in its change feed; only the follow loop touches it.</summary>
    private readonly Dictionary<string, string?> cursors = new(StringComparer.Ordinal);

    /// <summary>Changes read before the submission's 202 was: applied once the reservation is known (follow loop only).</summary>
    private readonly Dictionary<Guid, List<ReservationChange>> unclaimed = [];
    private readonly ConcurrentQueue<double> accepted = new();
    private readonly Dictionary<(string Distributor, string Sku), long> onHand = [];
    /// <summary>The happy path's one profile: all-or-none, confirmed automatically once held.</summary>
    private static readonly BuyerProfile HappyPathProfile = new("AllOrNone", null, "Auto");

    private readonly Stopwatch clock = new();
    private IReadOnlyList<Buyer> buyers = [];
    private IReadOnlyList<string> distributors = [];
    private IReadOnlyList<ScrambleSku> skus = [];
    private readonly Dictionary<string, long> sequences = new(StringComparer.Ordinal);
    private ScrambleDriver driver = null!;
    private string phase = "setting up";
    private int submitted;
    private int throttled;
    private int failed;
    private int inFlight;
    private int feedUpdates;
    private int feedItems;
    private int confirmations;
    private int cancellations;
    private string? firstFailure;
    private volatile bool draining;

    public async Task<LoadReport> RunAsync(CancellationToken cancellationToken = default)
    {
        plan.Validate();
        buyers = plan.HappyPath
            ? [.. ScrambleCast.UnlistedBuyers(plan.Buyers).Select(buyer => buyer with { Profile = HappyPathProfile })]
            : ScrambleCast.Buyers(plan.Buyers);
        distributors = ScrambleCast.Distributors(plan.Distributors, plan.RunTag);
        skus = [.. ScrambleCast.Skus.Take(plan.Skus)];
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        driver = new ScrambleDriver(target.ClientsOver(handler));

        var accounting = await ProcessAccounting.ForAsync(target, cancellationToken);
        var loadBefore = ProcessAccounting.LoadAverage();
        await SetSceneAsync(cancellationToken);
        var work = WorkCounters.For(target);
        if (work is not null)
        {
            await work.StartAsync(cancellationToken);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        clock.Start();
        accounting.Start();
        var started = DateTimeOffset.UtcNow;
        phase = "offering load";
        var background = new[]
        {
            FollowAsync(stop.Token),
            FeedAsync(stop.Token),
            ReportProgressAsync(accounting, stop.Token),
        };
        var cutoff = plan.MoveCutoffAt is { } moveAt ? MoveCutoffAsync(moveAt, stop.Token) : Task.FromResult<DateTimeOffset?>(null);

        var arrivals = await ArriveAsync(cancellationToken);
        var loadWindow = clock.Elapsed;
        await Task.WhenAll(arrivals);
        var movedCutoff = await cutoff;

        phase = "draining";
        draining = true;
        await Eventually.Latest(() => Task.FromResult(reservations.Values.All(r => r.Ended)), drained => drained, plan.DrainTimeout,
            TimeSpan.FromMilliseconds(250), cancellationToken: cancellationToken);

        await stop.CancelAsync();
        await Task.WhenAll(background.Select(task => task.ContinueWith(_ => { }, TaskScheduler.Default)));
        var resources = accounting.Stop();
        var stillOpen = reservations.Values.Count(r => !r.Ended);
        var cost = work is null ? null : await work.StopAsync(cancellationToken);

        InvariantReport? invariants = null;
        if (stillOpen == 0)
        {
            phase = "closing the books";
            await ReadConfirmedAllocationsAsync(cancellationToken);
            await CloseBooksAsync(cancellationToken);
            if (target.Databases is not null)
            {
                phase = "checking invariants";
                invariants = await ScrambleDriver.SettleInvariantsAsync(target.Databases, plan.SettleTimeout, TimeSpan.FromSeconds(2), cancellationToken);
            }
        }
        else if (target.Databases is not null)
        {
            phase = "checking invariants";
            invariants = await InvariantChecker.CheckAsync(target.Databases, new InvariantCheckOptions(), cancellationToken);
        }

        var all = reservations.Values.ToList();
        var lastEnd = all.Where(r => r.TerminalAt is not null).Select(r => r.TerminalAt!.Value).DefaultIfEmpty(started).Max();
        return new LoadReport
        {
            Plan = plan,
            Submitted = submitted,
            Accepted = all.Count,
            Throttled = throttled,
            Failed = failed,
            FirstFailure = firstFailure,
            Ended = all.Count(r => r.Ended),
            StillOpen = stillOpen,
            Outcomes = all.GroupBy(r => r.Status).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            LoadWindow = loadWindow,
            EndToEndWindow = lastEnd - started,
            SubmitToAccepted = LatencySummary.Of(accepted),
            SubmitToHeld = LatencySummary.Of(all.Where(r => r.HeldAt is not null).Select(r => (r.HeldAt!.Value - r.SentAt).TotalMilliseconds)),
            SubmitToTerminal = LatencySummary.Of(all.Where(r => r.TerminalAt is not null).Select(r => (r.TerminalAt!.Value - r.SentAt).TotalMilliseconds)),
            FeedUpdates = feedUpdates,
            FeedItems = feedItems,
            Confirmations = confirmations,
            Cancellations = cancellations,
            MovedCutoff = movedCutoff,
            Resources = resources,
            Work = cost,
            LoadAverageBefore = loadBefore,
            LoadAverageAfter = ProcessAccounting.LoadAverage(),
            LoadAveragePeak = accounting.PeakLoadAverage,
            Invariants = invariants,
        };
    }

    /// <summary>
    /// The scenario rule set (the 2023 rule, in force only after the run could possibly end, so reservations to CN
    /// race a real cutoff), the run's distributors, and their opening snapshots: scarce against the expected demand.
    /// </summary>
    private async Task SetSceneAsync(CancellationToken cancellationToken)
    {
        var horizon = DateTimeOffset.UtcNow + plan.Duration + plan.DrainTimeout + TimeSpan.FromMinutes(10);
        await PublishRuleSetAsync($"load-{plan.RunTag}-a", horizon, cancellationToken);

        // Buyers keep their ids from run to run (a sweep plays many on one system): start after what earlier runs did.
        foreach (var buyer in buyers)
        {
            // Known to compliance, as a real buyer would be (an installation in production settings refuses others).
            (await driver.RegisterBuyerAsync(buyer.Id, $"Load buyer {buyer.Id}", "SG", cancellationToken))
                .Expect("registering a buyer with compliance", HttpStatusCode.Created, HttpStatusCode.OK);
            cursors[buyer.Id] = null;
            while ((await ReadChangesAsync(buyer, cancellationToken)).Count > 0)
            {
            }
        }

        foreach (var distributor in distributors)
        {
            (await driver.RegisterDistributorAsync(distributor, $"Load distributor {distributor}", cancellationToken))
                .Expect("registering a distributor", HttpStatusCode.Created, HttpStatusCode.OK);
            sequences[distributor] = await driver.LastSequenceAsync(distributor, cancellationToken);
        }

        var demandPerSku = DemandPerSku(plan.Duration);
        var perLevel = Math.Max(plan.MaxUnitsPerLine, (long)Math.Ceiling(plan.Supply * demandPerSku / distributors.Count));
        foreach (var distributor in distributors)
        {
            foreach (var sku in skus)
            {
                onHand[(distributor, sku.Sku)] = perLevel;
            }

            await PublishSnapshotAsync(distributor, cancellationToken);
        }
    }

    /// <summary>The open loop: arrival i is due at i / rate, whether or not earlier ones were answered.</summary>
    private async Task<List<Task>> ArriveAsync(CancellationToken cancellationToken)
    {
        var random = new Random(plan.Seed);
        var arrivals = new List<Task>();
        for (var i = 0; ; i++)
        {
            var due = TimeSpan.FromSeconds(i / plan.Rate);
            if (due >= plan.Duration)
            {
                return arrivals;
            }

            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            var buyer = buyers[i % buyers.Count]; // round robin: every profile, and the listed party, in every run
            var lines = skus.OrderBy(_ => random.Next()).Take(skus.Count > 1 && random.Next(2) == 0 && !plan.HappyPath ? 2 : 1)
                .Select(sku => (sku, Units: (long)random.Next(1, plan.MaxUnitsPerLine + 1))).ToList();
            var cancelWhenHeld = buyer.Profile.Manual && random.NextDouble() < plan.CancelShare;
            var number = i;
            arrivals.Add(Task.Run(() => SubmitAsync(number, buyer, lines, cancelWhenHeld, cancellationToken), cancellationToken));
        }
    }

    private async Task SubmitAsync(int number, Buyer buyer, List<(ScrambleSku Sku, long Units)> lines, bool cancelWhenHeld, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref submitted);
        Interlocked.Increment(ref inFlight);
        var reference = string.Create(CultureInfo.InvariantCulture, $"LOAD-{plan.RunTag}-{number:D6}");
        var body = ScrambleDriver.Reservation(reference, buyer.EndUser, buyer.Profile.FillPolicy, buyer.Profile.Confirmation,
            lines.Select(line => new Line(line.Sku.Sku, line.Units, line.Sku.Ceiling)), buyer.Profile.MinFillRatio);
        var sentAt = DateTimeOffset.UtcNow;
        var stopwatch = Stopwatch.StartNew();
        try
        {
            var answer = await driver.SubmitAsync(buyer.Id, body, reference, cancellationToken);
            var elapsed = stopwatch.Elapsed.TotalMilliseconds;
            if (answer.Status == HttpStatusCode.Accepted)
            {
                var id = answer.ReservationId();
                accepted.Enqueue(elapsed);
                reservations[id] = new Reservation(id, buyer, sentAt, cancelWhenHeld, lines.Sum(line => line.Units));
            }
            else if (answer.Status == HttpStatusCode.TooManyRequests)
            {
                Interlocked.Increment(ref throttled);
            }
            else
            {
                Fail($"submission answered {(int)answer.Status}: {answer.Body}");
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Fail($"submission failed: {e.Message}");
        }
        finally
        {
            Interlocked.Decrement(ref inFlight);
        }
    }

    /// <summary>
    /// Each poll interval, every buyer reads its change feed on from where it stood (not each open reservation:
    /// the generator must not load the system it measures), then acts on reservations that came to rest.
    /// </summary>
    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(plan.PollInterval);
        using var gate = new SemaphoreSlim(16);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            var read = await Task.WhenAll(buyers.Select(async buyer =>
            {
                var changes = new List<ReservationChange>();
                try
                {
                    for (var page = await ReadChangesAsync(buyer, cancellationToken); page.Count > 0; page = await ReadChangesAsync(buyer, cancellationToken))
                    {
                        changes.AddRange(page);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException or TaskCanceledException
                    && !cancellationToken.IsCancellationRequested)
                {
                    // The cursor only moves past pages read whole: the rest is read next interval.
                }

                return changes;
            }));
            Apply(read.SelectMany(changes => changes));

            await Task.WhenAll(reservations.Values.Where(r => !r.Ended && ReservationView.AwaitsBuyer(r.Status) && (r.Undecided || draining)).ToList()
                .Select(async reservation =>
                {
                    await gate.WaitAsync(cancellationToken);
                    try
                    {
                        await DecideAsync(reservation, cancellationToken);
                    }
                    catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                    {
                        // Decided again next interval.
                    }
                    finally
                    {
                        gate.Release();
                    }
                }));
        }
    }

    /// <summary>The buyer's next page of changes (up to 1000), moving its cursor past them.</summary>
    private async Task<List<ReservationChange>> ReadChangesAsync(Buyer buyer, CancellationToken cancellationToken)
    {
        var page = await driver.ReadChangesAsync(buyer.Id, cursors[buyer.Id], cancellationToken);
        cursors[buyer.Id] = page.Next;
        return page.Changes;
    }

    /// <summary>Applies changes in feed order; those of a reservation whose 202 has not been read yet wait for it.</summary>
    private void Apply(IEnumerable<ReservationChange> changes)
    {
        foreach (var (id, waiting) in unclaimed.ToList())
        {
            if (reservations.TryGetValue(id, out var reservation))
            {
                unclaimed.Remove(id);
                waiting.ForEach(reservation.Apply);
            }
        }

        foreach (var change in changes)
        {
            if (unclaimed.TryGetValue(change.ReservationId, out var waiting))
            {
                waiting.Add(change);
            }
            else if (reservations.TryGetValue(change.ReservationId, out var reservation))
            {
                reservation.Apply(change);
            }
            else
            {
                unclaimed[change.ReservationId] = [change];
            }
        }
    }

    /// <summary>What the buyer does with a reservation at rest: cancel (changed plans, or the run is over), confirm, or wait.</summary>
    private async Task DecideAsync(Reservation reservation, CancellationToken cancellationToken)
    {
        var now = clock.Elapsed;
        if (reservation.LastActionAt is { } last && now - last <= TimeSpan.FromSeconds(3))
        {
            return;
        }

        if (draining || (reservation.CancelWhenHeld && reservation.Status == ReservationView.Held))
        {
            // A cancellation ordering accepted is durable and ends the reservation however long the saga takes to get to
            // it: a buyer does not ask again while nothing has changed, and a generator that did would measure its own
            // repeats. It asks again only once the reservation has moved since (a cancellation that found it committing
            // is ignored, and a refused commit may bring it back to waiting).
            if (reservation.CancellationAcceptedAt == reservation.Changes)
            {
                return;
            }

            var reason = draining ? "The load run ended before enough stock came." : "Changed plans.";
            reservation.LastActionAt = clock.Elapsed;
            if ((await driver.CancelAsync(reservation.Buyer.Id, reservation.Id, reason, cancellationToken)).Status == HttpStatusCode.Accepted)
            {
                reservation.CancellationAcceptedAt = reservation.Changes;
                Interlocked.Increment(ref cancellations);
            }

            return;
        }

        if (!reservation.Buyer.Profile.Manual)
        {
            reservation.Undecided = false;
            return;
        }

        // What is held is not in the feed: read this one reservation, once, now that it has come to rest.
        var view = await driver.TryGetAsync(reservation.Buyer.Id, reservation.Id, cancellationToken);
        if (view is null)
        {
            return;
        }

        if (!reservation.FillSatisfies(view.Value, reservation.Buyer.Profile))
        {
            reservation.Undecided = false; // a top-up moves it again, and the feed says so
            return;
        }

        reservation.LastActionAt = clock.Elapsed;
        if ((await driver.ConfirmAsync(reservation.Buyer.Id, reservation.Id, cancellationToken)).Status == HttpStatusCode.Accepted)
        {
            reservation.Undecided = false;
            Interlocked.Increment(ref confirmations);
        }
    }

    /// <summary>Where the confirmed units came from, for closing the books (after the measured window).</summary>
    private async Task ReadConfirmedAllocationsAsync(CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(16);
        await Task.WhenAll(reservations.Values.Where(r => r.Status == ReservationView.Confirmed).ToList().Select(async reservation =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                var view = await driver.TryGetAsync(reservation.Buyer.Id, reservation.Id, cancellationToken)
                    ?? throw new InvalidOperationException($"reading confirmed reservation {reservation.Id} failed.");
                reservation.Allocations = ReservationView.Allocations(view);
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    /// <summary>
    /// Each distributor, each interval, in turn: a restock (delta), a withdrawal of a quarter of what is still free of
    /// one SKU (delta; stock sold elsewhere; on the happy path, of what is free beyond <see cref="HappyPathReserve"/>),
    /// and a snapshot restating its stock.
    /// </summary>
    private async Task FeedAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(plan.FeedInterval);
        var random = new Random(plan.Seed + 1);
        for (var tick = 0; await timer.WaitForNextTickAsync(cancellationToken); tick++)
        {
            foreach (var distributor in distributors)
            {
                try
                {
                    switch (tick % 3)
                    {
                        case 0:
                            var restock = skus.Select(sku => (sku.Sku, Change: (long)random.Next(1, plan.MaxUnitsPerLine + 1))).ToList();
                            await PublishDeltaAsync(distributor, restock, cancellationToken);
                            break;
                        case 1:
                            var sku = skus[random.Next(skus.Count)].Sku;
                            var free = await driver.AvailableAsync(distributor, sku, cancellationToken);
                            var withdrawable = plan.HappyPath ? free - HappyPathReserve() : free;
                            if (free >= 8 && withdrawable >= 4)
                            {
                                await PublishDeltaAsync(distributor, [(sku, -(withdrawable / 4))], cancellationToken);
                            }

                            break;
                        default:
                            await PublishSnapshotAsync(distributor, cancellationToken);
                            break;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    Fail($"stock feed of {distributor}: {e.Message}");
                }
            }
        }
    }

    /// <summary>Units the run is expected to ask for per SKU over <paramref name="arrivals"/> of arrivals: arrivals × lines per reservation × mean units per line, split over the SKUs.</summary>
    private double DemandPerSku(TimeSpan arrivals)
    {
        var linesPerReservation = skus.Count > 1 && !plan.HappyPath ? 1.5 : 1.0;
        return plan.Rate * Math.Max(0, arrivals.TotalSeconds) * linesPerReservation * (1 + plan.MaxUnitsPerLine) / 2 / skus.Count;
    }

    /// <summary>
    /// What a happy-path withdrawal leaves on each level: the supply factor times what is still to be asked of it, the
    /// reservations not yet ended (what a backlog waits for, when the system runs behind the arrivals) and the arrivals
    /// still to come. Otherwise a long run behind its arrivals would see its stock sold elsewhere before its own
    /// reservations reach it, and end them for want of an offer: not the happy path the run promises.
    /// </summary>
    private long HappyPathReserve()
    {
        var open = reservations.Values.Where(r => !r.Ended).Sum(r => r.Requested) / (double)skus.Count;
        var wanted = open + DemandPerSku(plan.Duration - clock.Elapsed);
        return (long)Math.Ceiling(plan.Supply * wanted / distributors.Count);
    }

    private async Task<DateTimeOffset?> MoveCutoffAsync(TimeSpan at, CancellationToken cancellationToken)
    {
        var wait = at - clock.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }

        var cutoff = DateTimeOffset.UtcNow + plan.CutoffLead;
        await PublishRuleSetAsync($"load-{plan.RunTag}-b", cutoff, cancellationToken);
        return cutoff;
    }

    /// <summary>After the run every distributor reports on hand = what it committed: nothing free is left behind.</summary>
    private async Task CloseBooksAsync(CancellationToken cancellationToken)
    {
        var committed = reservations.Values.Where(r => r.Status == ReservationView.Confirmed)
            .SelectMany(r => r.Allocations)
            .GroupBy(a => (a.Distributor, a.Sku))
            .ToDictionary(g => g.Key, g => g.Sum(a => a.Quantity));
        foreach (var key in onHand.Keys.ToList())
        {
            onHand[key] = committed.GetValueOrDefault(key);
        }

        foreach (var distributor in distributors)
        {
            await PublishSnapshotAsync(distributor, cancellationToken);
        }
    }

    private async Task ReportProgressAsync(ProcessAccounting accounting, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            accounting.Sample();
            progress?.Report(Progress());
        }
    }

    /// <summary>Where the run stands now.</summary>
    public LoadProgress Progress()
    {
        var all = reservations.Values.ToList();
        return new LoadProgress(phase, clock.Elapsed, submitted, all.Count, throttled, failed, inFlight, all.Count(r => !r.Ended), all.Count(r => r.Ended),
            all.GroupBy(r => r.Status).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal), feedUpdates, ProcessAccounting.LoadAverage());
    }

    private Task PublishDeltaAsync(string distributor, List<(string Sku, long Change)> changes, CancellationToken cancellationToken)
    {
        var warehouse = ScrambleCast.WarehouseOf(IndexOf(distributor));
        foreach (var (sku, change) in changes)
        {
            onHand[(distributor, sku)] += change;
        }

        return PublishAsync(distributor, "Delta", [.. changes.Select(c => ScrambleDriver.Change(c.Sku, warehouse, c.Change))], cancellationToken);
    }

    private Task PublishSnapshotAsync(string distributor, CancellationToken cancellationToken)
    {
        var warehouse = ScrambleCast.WarehouseOf(IndexOf(distributor));
        var items = skus.Select(sku => ScrambleDriver.OnHand(sku.Sku, warehouse, onHand[(distributor, sku.Sku)], sku.ListPrice + (IndexOf(distributor) * 100m))).ToList();
        return PublishAsync(distributor, "Snapshot", items, cancellationToken);
    }

    private async Task PublishAsync(string distributor, string kind, List<object> items, CancellationToken cancellationToken)
    {
        var sequence = ++sequences[distributor];
        (await driver.PublishStockAsync(distributor, sequence, kind, items, cancellationToken))
            .Expect($"publishing {kind.ToLowerInvariant()} {sequence} of {distributor}", HttpStatusCode.OK);
        Interlocked.Increment(ref feedUpdates);
        Interlocked.Add(ref feedItems, items.Count);
    }

    private async Task PublishRuleSetAsync(string version, DateTimeOffset effectiveAt, CancellationToken cancellationToken) =>
        (await driver.PublishRuleSetAsync(version, effectiveAt, "Load run: the 2023 rule, effective at an instant the load generator chose.", cancellationToken))
            .Expect($"publishing rule set {version}", HttpStatusCode.Created);

    private int IndexOf(string distributor)
    {
        for (var i = 0; i < distributors.Count; i++)
        {
            if (distributors[i] == distributor)
            {
                return i;
            }
        }

        throw new ArgumentException($"{distributor} is not one of this run's distributors.", nameof(distributor));
    }

    private void Fail(string message)
    {
        Interlocked.Increment(ref failed);
        Interlocked.CompareExchange(ref firstFailure, message, null);
    }

    /// <summary>One accepted reservation as its buyer's change feed last told it.</summary>
    private sealed class Reservation(Guid id, Buyer buyer, DateTimeOffset sentAt, bool cancelWhenHeld, long requested)
    {
        public Guid Id { get; } = id;
        public Buyer Buyer { get; } = buyer;
        public DateTimeOffset SentAt { get; } = sentAt;
        public bool CancelWhenHeld { get; } = cancelWhenHeld;
        public long Requested { get; } = requested;
        public string Status { get; private set; } = ReservationView.Submitted;
        public bool Ended { get; private set; }
        public DateTimeOffset? HeldAt { get; private set; }
        public DateTimeOffset? TerminalAt { get; private set; }
        public TimeSpan? LastActionAt { get; set; }

        /// <summary>How many changes the feed had told when ordering answered 202 to this buyer's cancellation.</summary>
        public int? CancellationAcceptedAt { get; set; }

        /// <summary>How many changes of this reservation the feed has told.</summary>
        public int Changes { get; private set; }

        /// <summary>It came to rest (Held, AwaitingStock) and its buyer has not decided what to do about it yet.</summary>
        public bool Undecided { get; set; }

        public IReadOnlyList<(string Distributor, string Sku, long Quantity)> Allocations { get; set; } = [];

        /// <summary>The saga's own instants (<c>at</c>), so the latencies do not depend on how often the feed is read.</summary>
        public void Apply(ReservationChange change)
        {
            Changes++;
            Status = change.To;
            if (HeldAt is null && change.To is ReservationView.Held or ReservationView.Confirming)
            {
                HeldAt = change.At;
            }

            if (ReservationView.Ended(change.To))
            {
                TerminalAt = change.At;
                Ended = true;
            }

            Undecided = ReservationView.AwaitsBuyer(change.To);
        }

        public bool FillSatisfies(JsonElement view, BuyerProfile profile)
        {
            var allocated = ReservationView.Allocated(view);
            return allocated > 0 && (profile.MinFillRatio is not { } ratio ? allocated >= Requested : allocated >= ratio * Requested);
        }
    }
}
