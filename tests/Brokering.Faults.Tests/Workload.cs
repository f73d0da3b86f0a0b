using System.Net;
using Brokering.Messaging.Postgres;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Brokering.Testing.Installation;
using Brokering.Testing.Scramble;
using Npgsql;

namespace Brokering.Faults.Tests;

/// <summary>What a workload did, as its buyers saw it.</summary>
/// <param name="Submitted">Reservations submitted (distinct Idempotency-Keys).</param>
/// <param name="Accepted">Ids ordering answered 202 Accepted for.</param>
/// <param name="Unanswered">Submissions that got no definite answer before the load ended (each retried with its key).</param>
/// <param name="Refused">Submissions answered with a client error other than 409/429, with the answer.</param>
/// <param name="FeedUpdates">Stock-feed updates applied.</param>
public sealed record WorkloadResult(int Submitted, IReadOnlyList<Guid> Accepted, int Unanswered, IReadOnlyList<string> Refused, int FeedUpdates);

/// <summary>
/// A small scramble through the public APIs, for as long as a fault scenario lasts: buyers keep submitting
/// reservations for scarce A800/H800 stock at arrow, avnet and wpg (all-or-none and partial, auto and manual
/// confirmation, some cancelled, some confirmed once held, the rest left to lapse) while the distributors' feeds
/// keep changing. Every request that gets no definite answer is retried with the same Idempotency-Key (or feed
/// sequence), against the next replica, as a real client would.
/// </summary>
public sealed class Workload(BrokeringSystem system, Action<string> log)
{
    // A buyer's call gives up sooner than the officer's: a replica that is down should cost one short try.
    private readonly ScrambleDriver driver = system.Scramble(role => role switch
    {
        BrokeringRoles.Buyer => TimeSpan.FromSeconds(20),
        BrokeringRoles.ComplianceOfficer => TimeSpan.FromMinutes(1),
        _ => TimeSpan.FromSeconds(30),
    });

    /// <summary>How long a held, unconfirmed reservation keeps its holds: short, so a run ends in minutes.</summary>
    public static readonly TimeSpan HoldTimeToLive = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long after the load the scenario cutoff falls, ending every reservation still waiting for stock: the load
    /// ends by moving the cutoff to this much ahead (rule sets can, and in the 2023 story did, pull it earlier).
    /// </summary>
    public static readonly TimeSpan CutoffAfterLoad = TimeSpan.FromSeconds(20);

    /// <summary>Where the first scenario rule set puts the cutoff, counted from the end of the planned load: well clear of it, faults or not.</summary>
    private static readonly TimeSpan FirstCutoffAfterLoad = TimeSpan.FromMinutes(5);

    /// <summary>The configuration every service of a fault scenario runs with.</summary>
    public static IReadOnlyDictionary<string, string> Environment { get; } = new Dictionary<string, string>
    {
        ["Ordering__HoldTimeToLive"] = HoldTimeToLive.ToString(),
        ["Logging__LogLevel__Default"] = "Warning",
    };

    private const string A800 = ScrambleCast.A800;
    private const string H800 = ScrambleCast.H800;
    private const int Lanes = 6;
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(700);
    private static readonly TimeSpan SubmissionPatience = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan WarmUpPatience = TimeSpan.FromMinutes(3);
    private static readonly IReadOnlyList<Buyer> Buyers = ScrambleCast.UnlistedBuyers(4);
    private static readonly IReadOnlyList<StoryDistributor> Distributors = ScrambleCast.StoryDistributors;

    private readonly Dictionary<string, long> sequences = Distributors.ToDictionary(d => d.Id, _ => 0L);
    private readonly List<Guid> accepted = [];
    private readonly List<string> refused = [];
    private int submitted;
    private int unanswered;
    private int feedUpdates;

    /// <summary>
    /// Publishes a scenario rule set (modelled on the 2023 rule) whose cutoff falls <see cref="CutoffAfterLoad"/> after a
    /// load of <paramref name="load"/>, and the distributors' first snapshots.
    /// </summary>
    public async Task PrepareAsync(TimeSpan load, CancellationToken cancellationToken)
    {
        foreach (var distributor in Distributors)
        {
            var opening = Snapshot(distributor, Random.Shared.Next(30, 60), Random.Shared.Next(20, 50));
            await FeedAsync(distributor.Id, () => Task.FromResult(opening), cancellationToken);
        }

        // The first reservation through a fresh installation pays for cold starts (JIT, connections, broker
        // topology), which on two busy cores takes tens of seconds: one goes through before the load, so the
        // fault meets reservations in flight rather than a system still warming up.
        await PublishRuleSetAsync(DateTimeOffset.UtcNow + WarmUpPatience + load + FirstCutoffAfterLoad, cancellationToken);
        var warmUp = await SubmitAsync(Buyers[0].Id,
            ScrambleDriver.Reservation("PO-WARM-UP", Buyers[0].EndUser, "AllowPartial", "Auto", [new Line(A800, 1, 22_000m)], minFillRatio: 0.1m),
            cancellationToken) ?? throw new InvalidOperationException("The warm-up reservation was not accepted: " + string.Join("; ", refused));
        var ended = await Eventually.Until(() => StatusAsync(Buyers[0].Id, warmUp), ReservationView.Ended,
            WarmUpPatience, $"the warm-up reservation {warmUp} to end", TimeSpan.FromSeconds(1), details: () => system.Logs, cancellationToken: cancellationToken);

        log($"warmed up: the first reservation ended {ended}");
    }

    /// <summary>Runs the buyers and the feeds for <paramref name="duration"/>.</summary>
    public async Task<WorkloadResult> RunAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        using var load = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        load.CancelAfter(duration);
        var lanes = Enumerable.Range(0, Lanes).Select(lane => LaneAsync(lane, load.Token)).Append(FeedsAsync(load.Token));
        await Task.WhenAll(lanes);
        cancellationToken.ThrowIfCancellationRequested();
        lock (accepted)
        {
            return new WorkloadResult(submitted, [.. accepted], unanswered, [.. refused], feedUpdates);
        }
    }

    /// <summary>
    /// A scramble above capacity: reservations offered open loop at <paramref name="perSecond"/> for
    /// <paramref name="duration"/>, each sent on time whether or not the earlier ones were answered, auto-confirmed so
    /// that every one that finds stock goes on to commit. Returns once every one of them has had its answer.
    /// </summary>
    public async Task BurstAsync(double perSecond, TimeSpan duration, CancellationToken cancellationToken)
    {
        var submissions = new List<Task>();
        var started = DateTime.UtcNow;
        for (var i = 0; DateTime.UtcNow - started < duration && !cancellationToken.IsCancellationRequested; i++)
        {
            var buyer = Buyers[i % Buyers.Count];
            var body = ScrambleDriver.Reservation($"PO-BURST-{i}", buyer.EndUser, "AllOrNone", "Auto", [new Line(i % 2 == 0 ? A800 : H800, 1, 32_000m)]);
            submissions.Add(SubmitAsync(buyer.Id, body, cancellationToken));
            var due = started + TimeSpan.FromSeconds((i + 1) / perSecond);
            if (due > DateTime.UtcNow)
            {
                await Task.Delay(due - DateTime.UtcNow, cancellationToken);
            }
        }

        await Task.WhenAll(submissions);
    }

    /// <summary>Publishes a rule set whose cutoff falls <paramref name="lead"/> from now, as a regulator pulling it in would.</summary>
    public Task MoveCutoffAsync(TimeSpan lead, CancellationToken cancellationToken) =>
        PublishRuleSetAsync(DateTimeOffset.UtcNow + lead, cancellationToken);

    /// <summary>Pulls the cutoff in to <see cref="CutoffAfterLoad"/> from now, so whatever still waits for stock ends soon.</summary>
    public Task PullCutoffInAsync(CancellationToken cancellationToken) =>
        PublishRuleSetAsync(DateTimeOffset.UtcNow + CutoffAfterLoad, cancellationToken);

    private async Task PublishRuleSetAsync(DateTimeOffset effectiveAt, CancellationToken cancellationToken) =>
        (await driver.PublishRuleSetAsync($"faults-{Guid.NewGuid():N}"[..20], effectiveAt, "Fault suite: the 2023 rule, effective at a test-chosen instant.", cancellationToken))
            .Expect("Publishing the scenario rule set", HttpStatusCode.Created);

    private async Task LaneAsync(int lane, CancellationToken load)
    {
        var buyer = Buyers[lane % Buyers.Count];
        var number = 0;
        while (!load.IsCancellationRequested)
        {
            var reference = $"PO-{lane}-{++number}";
            var confirmation = Random.Shared.Next(3) == 0 ? "Auto" : "Manual";
            var partial = Random.Shared.Next(3) == 0;
            var lines = new List<Line>();
            if (Random.Shared.Next(3) != 0)
            {
                lines.Add(new Line(A800, Random.Shared.Next(5, 26), 22_000m));
            }

            if (lines.Count == 0 || Random.Shared.Next(2) == 0)
            {
                lines.Add(new Line(H800, Random.Shared.Next(5, 21), 32_000m));
            }

            var body = ScrambleDriver.Reservation(reference, buyer.EndUser, partial ? "AllowPartial" : "AllOrNone", confirmation, lines, partial ? 0.5m : null);

            var id = await SubmitAsync(buyer.Id, body, load);
            if (id is null)
            {
                continue;
            }

            var plan = Random.Shared.Next(10);
            if (plan < 2)
            {
                await CancelAsync(buyer.Id, id.Value, load);
            }
            else if (confirmation == "Manual" && plan < 7)
            {
                await ConfirmOnceHeldAsync(buyer.Id, id.Value, load);
            }

            // Others are left to lapse (manual) or confirm themselves (auto).
            await Pause(TimeSpan.FromMilliseconds(Random.Shared.Next(100, 400)), load);
        }
    }

    private async Task<Guid?> SubmitAsync(string buyer, object body, CancellationToken load)
    {
        var key = Guid.NewGuid().ToString("N");
        Interlocked.Increment(ref submitted);

        // A submission once sent is pursued past the end of the load: its key may already have been taken.
        var giveUpAt = DateTime.UtcNow + SubmissionPatience;
        while (DateTime.UtcNow < giveUpAt)
        {
            try
            {
                var answer = await driver.SubmitAsync(buyer, body, key, CancellationToken.None);
                if (answer.Status == HttpStatusCode.Accepted)
                {
                    var id = answer.ReservationId();
                    lock (accepted)
                    {
                        accepted.Add(id);
                    }

                    return id;
                }

                if (answer.Status is not (HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests) && (int)answer.Status < 500)
                {
                    lock (accepted)
                    {
                        refused.Add($"{(int)answer.Status}: {answer.Body}");
                    }

                    return null;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // No answer (the service is down, restarting or cut off): ask again with the same key.
            }

            await Task.Delay(RetryPause, CancellationToken.None);
        }

        Interlocked.Increment(ref unanswered);
        log($"submission {key} of {buyer} got no definite answer within {SubmissionPatience} (load over: {load.IsCancellationRequested})");
        return null;
    }

    private async Task CancelAsync(string buyer, Guid id, CancellationToken load)
    {
        await Pause(TimeSpan.FromMilliseconds(Random.Shared.Next(0, 1500)), load);
        await TryAsync(() => driver.CancelAsync(buyer, id, "fault suite: changed plans", CancellationToken.None), load);
    }

    private async Task ConfirmOnceHeldAsync(string buyer, Guid id, CancellationToken load)
    {
        // Waits a while for the reservation to rest; a fault may keep it busy longer, and then it is left to lapse.
        var giveUpAt = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < giveUpAt && !load.IsCancellationRequested)
        {
            var status = await StatusAsync(buyer, id);
            if (ReservationView.AwaitsBuyer(status))
            {
                await TryAsync(() => driver.ConfirmAsync(buyer, id, CancellationToken.None), load);
                return;
            }

            if (ReservationView.Ended(status))
            {
                return;
            }

            await Pause(TimeSpan.FromMilliseconds(500), load);
        }
    }

    private async Task<string?> StatusAsync(string buyer, Guid id)
    {
        try
        {
            return await driver.TryGetAsync(buyer, id, CancellationToken.None) is { } view ? ReservationView.Status(view) : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Makes a buyer's call until it gets a definite answer (not throttled, not a server error), for a few tries.</summary>
    private static async Task TryAsync(Func<Task<ApiAnswer>> call, CancellationToken load)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                if ((await call()).Status is not (HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError))
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // No answer: try again.
            }

            await Pause(RetryPause, load);
        }
    }

    private async Task FeedsAsync(CancellationToken load)
    {
        while (!load.IsCancellationRequested)
        {
            await Pause(TimeSpan.FromMilliseconds(Random.Shared.Next(800, 2000)), load);
            if (load.IsCancellationRequested)
            {
                return;
            }

            var distributor = Distributors[Random.Shared.Next(Distributors.Count)];
            StockUpdate delta = new("Delta", [ScrambleDriver.Change(Random.Shared.Next(2) == 0 ? A800 : H800, distributor.Warehouse, Random.Shared.Next(3, 15))]);
            // The snapshot's floor is read from inventory's database at each try, so a try that waited out a fault does
            // not report a floor that commits made since have passed; while that database is down (a database fault),
            // the try sends a delta instead.
            var (a800, h800) = (Random.Shared.Next(10, 60), Random.Shared.Next(10, 50));
            Func<Task<StockUpdate>> update = Random.Shared.Next(4) == 0
                ? async () => await HonestSnapshotAsync(distributor, a800, h800) ?? delta
                : () => Task.FromResult(delta);
            await FeedAsync(distributor.Id, update, CancellationToken.None);
        }
    }

    /// <summary>
    /// A snapshot that never reports fewer units than the distributor already committed to Brokering: units it
    /// committed are sold. The floor is read from inventory's levels, and counts the units held too: a hold at that
    /// read may be committed before the snapshot lands (after a database restart, a backlog of commits lands at once),
    /// and a snapshot below those commits would be the distributor's error, not an oversell.
    /// </summary>
    private async Task<StockUpdate?> HonestSnapshotAsync(StoryDistributor distributor, long a800, long h800)
    {
        try
        {
            return await HonestSnapshotOrThrowAsync(distributor, a800, h800);
        }
        catch (NpgsqlException e) when (PostgresErrors.IsUnreachable(e))
        {
            // The database is out of reach for now, as the services take it (a restart, a failover under way).
            return null;
        }
    }

    private async Task<StockUpdate> HonestSnapshotOrThrowAsync(StoryDistributor distributor, long a800, long h800)
    {
        await using var connection = new NpgsqlConnection(system.InventoryDatabase);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT sku, committed + held FROM stock_levels WHERE distributor_id = @distributor AND warehouse = @warehouse", connection);
        command.Parameters.AddWithValue("distributor", distributor.Id);
        command.Parameters.AddWithValue("warehouse", distributor.Warehouse);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var committed = reader.GetInt64(1);
            switch (reader.GetString(0))
            {
                case A800: a800 = Math.Max(a800, committed); break;
                case H800: h800 = Math.Max(h800, committed); break;
            }
        }

        return Snapshot(distributor, a800, h800);
    }

    private static StockUpdate Snapshot(StoryDistributor distributor, long a800, long h800) => new("Snapshot",
    [
        ScrambleDriver.OnHand(A800, distributor.Warehouse, a800, distributor.A800Price),
        ScrambleDriver.OnHand(H800, distributor.Warehouse, h800, distributor.H800Price),
    ]);

    /// <summary>One stock-feed update before it gets its sequence.</summary>
    private sealed record StockUpdate(string Kind, object[] Items);

    /// <summary>
    /// Publishes one update with the distributor's next sequence, retrying it (same sequence) until applied or seen as a
    /// duplicate. <paramref name="update"/> is made afresh for each try: only one try of a sequence is ever applied.
    /// </summary>
    private async Task FeedAsync(string distributorId, Func<Task<StockUpdate>> update, CancellationToken cancellationToken)
    {
        long sequence;
        lock (sequences)
        {
            sequence = ++sequences[distributorId];
        }

        var giveUpAt = DateTime.UtcNow + SubmissionPatience;
        while (DateTime.UtcNow < giveUpAt)
        {
            try
            {
                var (kind, items) = await update();
                var answer = await driver.PublishStockAsync(distributorId, sequence, kind, items, cancellationToken);
                if (answer.Status == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref feedUpdates);
                    return;
                }

                if ((int)answer.Status < 500 && answer.Status != HttpStatusCode.TooManyRequests)
                {
                    throw new InvalidOperationException($"{distributorId}'s feed update {sequence} was refused: {(int)answer.Status} {answer.Body}");
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // No answer: send the same sequence again; a second application is recognised as a duplicate.
            }

            await Task.Delay(RetryPause, cancellationToken);
        }

        log($"{distributorId}'s feed update {sequence} got no answer within {SubmissionPatience}");
    }

    private static async Task Pause(TimeSpan pause, CancellationToken load)
    {
        try
        {
            await Task.Delay(pause, load);
        }
        catch (OperationCanceledException)
        {
            // The load is over: the caller winds down.
        }
    }
}
