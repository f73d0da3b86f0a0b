using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Invariants;
using Brokering.Testing;

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
    private const string Ops = "ops";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly ConcurrentDictionary<Guid, Reservation> reservations = new();

    /// <summary>Each buyer's place in its change feed; only the follow loop touches it.</summary>
    private readonly Dictionary<string, string?> cursors = new(StringComparer.Ordinal);

    /// <summary>Changes read before the submission's 202 was: applied once the reservation is known (follow loop only).</summary>
    private readonly Dictionary<Guid, List<FeedChange>> unclaimed = [];
    private readonly ConcurrentQueue<double> accepted = new();
    private readonly Dictionary<(string Distributor, string Sku), long> onHand = [];
    private readonly Stopwatch clock = new();
    private IReadOnlyList<Buyer> buyers = [];
    private IReadOnlyList<string> distributors = [];
    private IReadOnlyList<ScrambleSku> skus = [];
    private readonly Dictionary<string, long> sequences = new(StringComparer.Ordinal);
    private HttpClient http = null!;
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
        buyers = ScrambleCast.BuyersFor(plan);
        distributors = ScrambleCast.DistributorsFor(plan);
        skus = ScrambleCast.SkusFor(plan);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        http = client;

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
                invariants = await CheckInvariantsAsync(target.Databases, plan.SettleTimeout, cancellationToken);
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
            cursors[buyer.Id] = null;
            while ((await ReadChangesAsync(buyer, cancellationToken)).Count > 0)
            {
            }
        }

        foreach (var distributor in distributors)
        {
            using var register = await SendAsync(HttpMethod.Post, target.Inventory, "/v1/distributors", Ops, null,
                new { id = distributor, name = $"Load distributor {distributor}" }, cancellationToken);
            await ExpectAsync(register, "registering a distributor", HttpStatusCode.Created, HttpStatusCode.OK);
            using var view = await SendAsync(HttpMethod.Get, target.Inventory, $"/v1/distributors/{distributor}", Ops, null, null, cancellationToken);
            await ExpectAsync(view, "reading a distributor", HttpStatusCode.OK);
            sequences[distributor] = (await view.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("lastSequence").GetInt64();
        }

        // Units the run is expected to ask for per SKU: arrivals × lines per reservation × mean units per line, split over the SKUs.
        var linesPerReservation = skus.Count > 1 ? 1.5 : 1.0;
        var demandPerSku = plan.Rate * plan.Duration.TotalSeconds * linesPerReservation * (1 + plan.MaxUnitsPerLine) / 2 / skus.Count;
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
            var lines = skus.OrderBy(_ => random.Next()).Take(skus.Count > 1 && random.Next(2) == 0 ? 2 : 1)
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
        var body = new
        {
            buyerReference = reference,
            endUser = new { name = buyer.EndUser, country = "CN" },
            destinationCountry = "CN",
            fillPolicy = new { kind = buyer.Profile.FillPolicy, minFillRatio = buyer.Profile.MinFillRatio },
            confirmation = buyer.Profile.Confirmation,
            lines = lines.Select(line => new { sku = line.Sku.Sku, quantity = line.Units, maxUnitPrice = line.Sku.Ceiling, currency = "USD" }),
        };
        var sentAt = DateTimeOffset.UtcNow;
        var stopwatch = Stopwatch.StartNew();
        try
        {
            using var response = await SendAsync(HttpMethod.Post, target.Ordering, "/v1/reservations", "buyer", buyer.Id, body, cancellationToken, reference);
            var elapsed = stopwatch.Elapsed.TotalMilliseconds;
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                var id = (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetGuid();
                accepted.Enqueue(elapsed);
                reservations[id] = new Reservation(id, buyer, sentAt, cancelWhenHeld, lines.Sum(line => line.Units));
            }
            else if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Interlocked.Increment(ref throttled);
            }
            else
            {
                Fail($"submission answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
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
                var changes = new List<FeedChange>();
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

            await Task.WhenAll(reservations.Values.Where(r => !r.Ended && r.Status is "Held" or "AwaitingStock" && (r.Undecided || draining)).ToList()
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
    private async Task<List<FeedChange>> ReadChangesAsync(Buyer buyer, CancellationToken cancellationToken)
    {
        var after = cursors[buyer.Id];
        var path = after is null ? "/v1/reservations/changes?limit=1000" : $"/v1/reservations/changes?limit=1000&after={Uri.EscapeDataString(after)}";
        using var response = await SendAsync(HttpMethod.Get, target.Ordering, path, "buyer", buyer.Id, null, cancellationToken);
        await ExpectAsync(response, "reading the change feed", HttpStatusCode.OK);
        var page = await response.Content.ReadFromJsonAsync<FeedPage>(Json, cancellationToken)
            ?? throw new InvalidOperationException("reading the change feed: an empty answer.");
        cursors[buyer.Id] = page.Next;
        return page.Changes;
    }

    /// <summary>Applies changes in feed order; those of a reservation whose 202 has not been read yet wait for it.</summary>
    private void Apply(IEnumerable<FeedChange> changes)
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

        if (draining || (reservation.CancelWhenHeld && reservation.Status == "Held"))
        {
            var reason = draining ? "The load run ended before enough stock came." : "Changed plans.";
            if (await ActAsync(reservation, $"/v1/reservations/{reservation.Id}/cancel", new { reason }, cancellationToken))
            {
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
        var view = await ReadAsync(reservation, cancellationToken);
        if (view is null)
        {
            return;
        }

        if (!reservation.FillSatisfies(view.Value, reservation.Buyer.Profile))
        {
            reservation.Undecided = false; // a top-up moves it again, and the feed says so
            return;
        }

        if (await ActAsync(reservation, $"/v1/reservations/{reservation.Id}/confirm", null, cancellationToken))
        {
            reservation.Undecided = false;
            Interlocked.Increment(ref confirmations);
        }
    }

    private async Task<JsonElement?> ReadAsync(Reservation reservation, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, target.Ordering, $"/v1/reservations/{reservation.Id}", "buyer", reservation.Buyer.Id, null, cancellationToken);
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken) : null;
    }

    /// <summary>Where the confirmed units came from, for closing the books (after the measured window).</summary>
    private async Task ReadConfirmedAllocationsAsync(CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(16);
        await Task.WhenAll(reservations.Values.Where(r => r.Status == "Confirmed").ToList().Select(async reservation =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                var view = await ReadAsync(reservation, cancellationToken)
                    ?? throw new InvalidOperationException($"reading confirmed reservation {reservation.Id} failed.");
                reservation.ReadAllocations(view);
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    private async Task<bool> ActAsync(Reservation reservation, string path, object? body, CancellationToken cancellationToken)
    {
        reservation.LastActionAt = clock.Elapsed;
        using var response = await SendAsync(HttpMethod.Post, target.Ordering, path, "buyer", reservation.Buyer.Id, body, cancellationToken);
        return response.StatusCode == HttpStatusCode.Accepted;
    }

    /// <summary>
    /// Each distributor, each interval, in turn: a restock (delta), a withdrawal of a quarter of what is still free of
    /// one SKU (delta; stock sold elsewhere), and a snapshot restating its stock.
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
                            var free = await FreeAsync(distributor, sku, cancellationToken);
                            if (free >= 8)
                            {
                                await PublishDeltaAsync(distributor, [(sku, -(free / 4))], cancellationToken);
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
        var committed = reservations.Values.Where(r => r.Status == "Confirmed")
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

    /// <summary>Checks until the invariants hold or <paramref name="settle"/> passes: releases of ended reservations' holds land asynchronously.</summary>
    private static Task<InvariantReport> CheckInvariantsAsync(InvariantDatabases databases, TimeSpan settle, CancellationToken cancellationToken) =>
        Eventually.Latest(() => InvariantChecker.CheckAsync(databases, new InvariantCheckOptions(), cancellationToken), report => report.Passed, settle,
            TimeSpan.FromSeconds(2), cancellationToken: cancellationToken);

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

    private async Task<long> FreeAsync(string distributor, string sku, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, target.Inventory, $"/v1/skus/{sku}/offers", Ops, null, null, cancellationToken);
        await ExpectAsync(response, "reading offers", HttpStatusCode.OK);
        var offers = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return offers.EnumerateArray().Where(o => o.GetProperty("distributorId").GetString() == distributor).Sum(o => o.GetProperty("available").GetInt64());
    }

    private Task PublishDeltaAsync(string distributor, List<(string Sku, long Change)> changes, CancellationToken cancellationToken)
    {
        var warehouse = ScrambleCast.WarehouseOf(IndexOf(distributor));
        foreach (var (sku, change) in changes)
        {
            onHand[(distributor, sku)] += change;
        }

        return PublishAsync(distributor, "Delta", [.. changes.Select(c => (object)new { sku = c.Sku, warehouse, quantityChange = c.Change })], cancellationToken);
    }

    private Task PublishSnapshotAsync(string distributor, CancellationToken cancellationToken)
    {
        var warehouse = ScrambleCast.WarehouseOf(IndexOf(distributor));
        var items = skus.Select(sku => (object)new
        {
            sku = sku.Sku,
            warehouse,
            quantityOnHand = onHand[(distributor, sku.Sku)],
            unitPrice = sku.ListPrice + (IndexOf(distributor) * 100m),
            currency = "USD",
            leadTimeDays = 3,
            minimumOrderQuantity = 1,
        }).ToList();
        return PublishAsync(distributor, "Snapshot", items, cancellationToken);
    }

    private async Task PublishAsync(string distributor, string kind, List<object> items, CancellationToken cancellationToken)
    {
        var sequence = ++sequences[distributor];
        using var response = await SendAsync(HttpMethod.Post, target.Inventory, $"/v1/distributors/{distributor}/stock-feed", "distributor", distributor,
            new { distributorId = distributor, sequence, kind, items }, cancellationToken);
        await ExpectAsync(response, $"publishing {kind.ToLowerInvariant()} {sequence} of {distributor}", HttpStatusCode.OK);
        Interlocked.Increment(ref feedUpdates);
        Interlocked.Add(ref feedItems, items.Count);
    }

    private async Task PublishRuleSetAsync(string version, DateTimeOffset effectiveAt, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Post, target.Compliance, "/v1/rule-sets", "compliance-officer", null, new
        {
            version,
            effectiveAt,
            basedOn = "2023-10-17",
            description = "Load run: the 2023 rule, effective at an instant the load generator chose.",
        }, cancellationToken);
        await ExpectAsync(response, $"publishing rule set {version}", HttpStatusCode.Created);
    }

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

    private async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, Uri service, string path, string role, string? tenant, object? body, CancellationToken cancellationToken, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(service, path));
        request.Headers.Authorization = target.Bearer(role, tenant);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: Json);
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await http.SendAsync(request, cancellationToken);
    }

    private static async Task ExpectAsync(HttpResponseMessage response, string what, params HttpStatusCode[] expected)
    {
        if (!expected.Contains(response.StatusCode))
        {
            throw new InvalidOperationException($"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private void Fail(string message)
    {
        Interlocked.Increment(ref failed);
        Interlocked.CompareExchange(ref firstFailure, message, null);
    }

    /// <summary>One change of the buyer's feed, as <c>GET /v1/reservations/changes</c> gives it.</summary>
    private sealed record FeedChange(string Cursor, Guid ReservationId, string From, string To, string Event, string? Reason, DateTimeOffset At);

    private sealed record FeedPage(List<FeedChange> Changes, string Next);

    /// <summary>One accepted reservation as its buyer's change feed last told it.</summary>
    private sealed class Reservation(Guid id, Buyer buyer, DateTimeOffset sentAt, bool cancelWhenHeld, long requested)
    {
        public Guid Id { get; } = id;
        public Buyer Buyer { get; } = buyer;
        public DateTimeOffset SentAt { get; } = sentAt;
        public bool CancelWhenHeld { get; } = cancelWhenHeld;
        public long Requested { get; } = requested;
        public string Status { get; private set; } = "Submitted";
        public bool Ended { get; private set; }
        public DateTimeOffset? HeldAt { get; private set; }
        public DateTimeOffset? TerminalAt { get; private set; }
        public TimeSpan? LastActionAt { get; set; }

        /// <summary>It came to rest (Held, AwaitingStock) and its buyer has not decided what to do about it yet.</summary>
        public bool Undecided { get; set; }

        public IReadOnlyList<(string Distributor, string Sku, long Quantity)> Allocations { get; private set; } = [];

        /// <summary>The saga's own instants (<c>at</c>), so the latencies do not depend on how often the feed is read.</summary>
        public void Apply(FeedChange change)
        {
            Status = change.To;
            if (HeldAt is null && change.To is "Held" or "Confirming")
            {
                HeldAt = change.At;
            }

            if (InvariantChecker.TerminalStates.Contains(change.To))
            {
                TerminalAt = change.At;
                Ended = true;
            }

            Undecided = change.To is "Held" or "AwaitingStock";
        }

        public void ReadAllocations(JsonElement view) =>
            Allocations = [.. view.GetProperty("lines").EnumerateArray().SelectMany(line => line.GetProperty("allocations").EnumerateArray()
                .Select(a => (a.GetProperty("distributorId").GetString()!, line.GetProperty("sku").GetString()!, a.GetProperty("quantity").GetInt64())))];

        public bool FillSatisfies(JsonElement view, BuyerProfile profile)
        {
            var allocated = view.GetProperty("lines").EnumerateArray().Sum(line => line.GetProperty("allocated").GetInt64());
            return allocated > 0 && (profile.MinFillRatio is not { } ratio ? allocated >= Requested : allocated >= ratio * Requested);
        }
    }
}
