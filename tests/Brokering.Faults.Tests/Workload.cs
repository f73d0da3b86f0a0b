using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Testing;
using Brokering.Testing.Installation;
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

    private const string A800 = "NVIDIA-A800-SXM4-80GB";
    private const string H800 = "NVIDIA-H800-SXM5-80GB";
    private const int Lanes = 6;
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(700);
    private static readonly TimeSpan SubmissionPatience = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan WarmUpPatience = TimeSpan.FromMinutes(3);
    private static readonly string[] Buyers = ["h3c-servers", "xfusion-dc", "powerleader", "nettrix"];
    private static readonly string[] EndUsers =
        ["Hangzhou Cloud Compute Ltd.", "Zhengzhou Training Cluster Co., Ltd.", "Shenzhen Render Farm Co., Ltd.", "Tianjin Inference Services Ltd."];

    private static readonly (string Distributor, string Warehouse, decimal A800Price, decimal H800Price)[] Distributors =
        [("arrow", "HKG-1", 21_000m, 31_000m), ("avnet", "SGP-1", 21_500m, 31_500m), ("wpg", "TPE-1", 20_500m, 30_500m)];

    private readonly Dictionary<string, long> sequences = Distributors.ToDictionary(d => d.Distributor, _ => 0L);
    private readonly List<Guid> accepted = [];
    private readonly List<string> refused = [];
    private int submitted;
    private int unanswered;
    private int feedUpdates;
    private long requests;

    /// <summary>
    /// Publishes a scenario rule set (modelled on the 2023 rule) whose cutoff falls <see cref="CutoffAfterLoad"/> after a
    /// load of <paramref name="load"/>, and the distributors' first snapshots.
    /// </summary>
    public async Task PrepareAsync(TimeSpan load, CancellationToken cancellationToken)
    {
        foreach (var distributor in Distributors)
        {
            var opening = Snapshot(distributor, Random.Shared.Next(30, 60), Random.Shared.Next(20, 50));
            await FeedAsync(distributor.Distributor, () => Task.FromResult(opening), cancellationToken);
        }

        // The first reservation through a fresh installation pays for cold starts (JIT, connections, broker
        // topology), which on two busy cores takes tens of seconds: one goes through before the load, so the
        // fault meets reservations in flight rather than a system still warming up.
        await PublishRuleSetAsync(DateTimeOffset.UtcNow + WarmUpPatience + load + FirstCutoffAfterLoad, cancellationToken);
        var warmUp = await SubmitAsync(Buyers[0], new
        {
            buyerReference = "PO-WARM-UP",
            endUser = new { name = EndUsers[0], country = "CN" },
            destinationCountry = "CN",
            fillPolicy = new { kind = "AllowPartial", minFillRatio = 0.1m },
            confirmation = "Auto",
            lines = new[] { new { sku = A800, quantity = 1, maxUnitPrice = 22_000m, currency = "USD" } },
        }, cancellationToken) ?? throw new InvalidOperationException("The warm-up reservation was not accepted: " + string.Join("; ", refused));
        var ended = await Eventually.Until(() => StatusAsync(Buyers[0], warmUp), status => status is { } known && InvariantsTerminal(known),
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
            var body = new
            {
                buyerReference = $"PO-BURST-{i}",
                endUser = new { name = EndUsers[i % EndUsers.Length], country = "CN" },
                destinationCountry = "CN",
                fillPolicy = new { kind = "AllOrNone" },
                confirmation = "Auto",
                lines = new[] { new { sku = i % 2 == 0 ? A800 : H800, quantity = 1, maxUnitPrice = 32_000m, currency = "USD" } },
            };
            submissions.Add(SubmitAsync(Buyers[i % Buyers.Length], body, cancellationToken));
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

    private async Task PublishRuleSetAsync(DateTimeOffset effectiveAt, CancellationToken cancellationToken)
    {
        using var officer = system.ComplianceOfficer();
        officer.Timeout = TimeSpan.FromMinutes(1);
        using var response = await officer.PostAsJsonAsync("/v1/rule-sets", new
        {
            version = $"faults-{Guid.NewGuid():N}"[..20],
            effectiveAt,
            basedOn = "2023-10-17",
            description = "Fault suite: the 2023 rule, effective at a test-chosen instant.",
        }, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"Publishing the scenario rule set answered {(int)response.StatusCode}: {body}");
        }
    }

    private async Task LaneAsync(int lane, CancellationToken load)
    {
        var buyer = Buyers[lane % Buyers.Length];
        var number = 0;
        while (!load.IsCancellationRequested)
        {
            var reference = $"PO-{lane}-{++number}";
            var confirmation = Random.Shared.Next(3) == 0 ? "Auto" : "Manual";
            var partial = Random.Shared.Next(3) == 0;
            var lines = new List<object>();
            if (Random.Shared.Next(3) != 0)
            {
                lines.Add(new { sku = A800, quantity = Random.Shared.Next(5, 26), maxUnitPrice = 22_000m, currency = "USD" });
            }

            if (lines.Count == 0 || Random.Shared.Next(2) == 0)
            {
                lines.Add(new { sku = H800, quantity = Random.Shared.Next(5, 21), maxUnitPrice = 32_000m, currency = "USD" });
            }

            var body = new
            {
                buyerReference = reference,
                endUser = new { name = EndUsers[lane % EndUsers.Length], country = "CN" },
                destinationCountry = "CN",
                fillPolicy = new { kind = partial ? "AllowPartial" : "AllOrNone", minFillRatio = partial ? 0.5m : (decimal?)null },
                confirmation,
                lines,
            };

            var id = await SubmitAsync(buyer, body, load);
            if (id is null)
            {
                continue;
            }

            var plan = Random.Shared.Next(10);
            if (plan < 2)
            {
                await CancelAsync(buyer, id.Value, load);
            }
            else if (confirmation == "Manual" && plan < 7)
            {
                await ConfirmOnceHeldAsync(buyer, id.Value, load);
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
                using var client = BuyerClient(buyer);
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations") { Content = JsonContent.Create(body) };
                request.Headers.Add("Idempotency-Key", key);
                using var response = await client.SendAsync(request, CancellationToken.None);
                var text = await response.Content.ReadAsStringAsync(CancellationToken.None);
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    using var json = JsonDocument.Parse(text);
                    var id = json.RootElement.GetProperty("id").GetGuid();
                    lock (accepted)
                    {
                        accepted.Add(id);
                    }

                    return id;
                }

                if (response.StatusCode is not (HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests) && (int)response.StatusCode < 500)
                {
                    lock (accepted)
                    {
                        refused.Add($"{(int)response.StatusCode}: {text}");
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
        await TryAsync(async client =>
        {
            using var response = await client.PostAsJsonAsync($"/v1/reservations/{id}/cancel", new { reason = "fault suite: changed plans" }, CancellationToken.None);
            return response.StatusCode is not (HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError);
        }, buyer, load);
    }

    private async Task ConfirmOnceHeldAsync(string buyer, Guid id, CancellationToken load)
    {
        // Waits a while for the reservation to rest; a fault may keep it busy longer, and then it is left to lapse.
        var giveUpAt = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < giveUpAt && !load.IsCancellationRequested)
        {
            var status = await StatusAsync(buyer, id);
            if (status is "Held" or "AwaitingStock")
            {
                await TryAsync(async client =>
                {
                    using var response = await client.PostAsync(new Uri($"/v1/reservations/{id}/confirm", UriKind.Relative), null, CancellationToken.None);
                    return response.StatusCode is not (HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError);
                }, buyer, load);
                return;
            }

            if (status is not null && InvariantsTerminal(status))
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
            using var client = BuyerClient(buyer);
            using var response = await client.GetAsync(new Uri($"/v1/reservations/{id}", UriKind.Relative), CancellationToken.None);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(CancellationToken.None));
            return json.RootElement.GetProperty("status").GetString();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Makes a buyer's call until it gets a definite answer (true), for a few tries.</summary>
    private async Task TryAsync(Func<HttpClient, Task<bool>> call, string buyer, CancellationToken load)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                using var client = BuyerClient(buyer);
                if (await call(client))
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

            var distributor = Distributors[Random.Shared.Next(Distributors.Length)];
            object delta = new
            {
                kind = "Delta",
                items = (object[])[new { sku = Random.Shared.Next(2) == 0 ? A800 : H800, warehouse = distributor.Warehouse, quantityChange = (long)Random.Shared.Next(3, 15) }],
            };
            // The snapshot's floor is read from inventory's database at each try, so a try that waited out a fault does
            // not report a floor that commits made since have passed; while that database is down (a database fault),
            // the try sends a delta instead.
            var (a800, h800) = (Random.Shared.Next(10, 60), Random.Shared.Next(10, 50));
            Func<Task<object>> update = Random.Shared.Next(4) == 0
                ? async () => await HonestSnapshotAsync(distributor, a800, h800) ?? delta
                : () => Task.FromResult(delta);
            await FeedAsync(distributor.Distributor, update, CancellationToken.None);
        }
    }

    /// <summary>
    /// A snapshot that never reports fewer units than the distributor already committed to Brokering: units it
    /// committed are sold. The floor is read from inventory's levels, and counts the units held too: a hold at that
    /// read may be committed before the snapshot lands (after a database restart, a backlog of commits lands at once),
    /// and a snapshot below those commits would be the distributor's error, not an oversell.
    /// </summary>
    private async Task<object?> HonestSnapshotAsync(
        (string Distributor, string Warehouse, decimal A800Price, decimal H800Price) distributor, long a800, long h800)
    {
        try
        {
            return await HonestSnapshotOrThrowAsync(distributor, a800, h800);
        }
        catch (NpgsqlException e) when (IsTransient(e))
        {
            return null;
        }
    }

    // With several hosts (a primary and its standby) Npgsql reports "unable to connect to a suitable host", itself not
    // transient, around the transient failures of each host, and "no suitable host" alone while every host it reaches
    // is a standby: both are the database out of reach for now, as the services take them.
    private static bool IsTransient(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is NpgsqlException { IsTransient: true } or TimeoutException
                || current is NpgsqlException { InnerException: null, Message: "No suitable host was found." })
            {
                return true;
            }
        }

        return false;
    }

    private async Task<object> HonestSnapshotOrThrowAsync(
        (string Distributor, string Warehouse, decimal A800Price, decimal H800Price) distributor, long a800, long h800)
    {
        await using var connection = new NpgsqlConnection(system.InventoryDatabase);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT sku, committed + held FROM stock_levels WHERE distributor_id = @distributor AND warehouse = @warehouse", connection);
        command.Parameters.AddWithValue("distributor", distributor.Distributor);
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

    private static object Snapshot((string Distributor, string Warehouse, decimal A800Price, decimal H800Price) distributor, long a800, long h800) => new
    {
        kind = "Snapshot",
        items = (object[])
        [
            new { sku = A800, warehouse = distributor.Warehouse, quantityOnHand = a800, unitPrice = distributor.A800Price, currency = "USD", leadTimeDays = 3, minimumOrderQuantity = 1 },
            new { sku = H800, warehouse = distributor.Warehouse, quantityOnHand = h800, unitPrice = distributor.H800Price, currency = "USD", leadTimeDays = 3, minimumOrderQuantity = 1 },
        ],
    };

    /// <summary>
    /// Publishes one update with the distributor's next sequence, retrying it (same sequence) until applied or seen as a
    /// duplicate. <paramref name="update"/> is made afresh for each try: only one try of a sequence is ever applied.
    /// </summary>
    private async Task FeedAsync(string distributorId, Func<Task<object>> update, CancellationToken cancellationToken)
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
                var json = JsonSerializer.SerializeToElement(await update());
                var inventory = system.InventoryReplicas[(int)(Interlocked.Increment(ref requests) % system.InventoryReplicas.Count)];
                using var client = BrokeringSystem.RestClient(inventory, TestTokens.Distributor(distributorId));
                using var response = await client.PostAsJsonAsync($"/v1/distributors/{distributorId}/stock-feed", new
                {
                    distributorId,
                    sequence,
                    kind = json.GetProperty("kind").GetString(),
                    items = json.GetProperty("items"),
                }, cancellationToken);
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref feedUpdates);
                    return;
                }

                if ((int)response.StatusCode < 500 && response.StatusCode != HttpStatusCode.TooManyRequests)
                {
                    throw new InvalidOperationException($"{distributorId}'s feed update {sequence} was refused: {(int)response.StatusCode} {text}");
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

    /// <summary>A buyer's client of the next ordering replica, so a replica that is down costs one try.</summary>
    private HttpClient BuyerClient(string buyer)
    {
        var ordering = system.OrderingReplicas[(int)(Interlocked.Increment(ref requests) % system.OrderingReplicas.Count)];
        var client = BrokeringSystem.RestClient(ordering, TestTokens.Buyer(buyer));
        client.Timeout = TimeSpan.FromSeconds(20);
        return client;
    }

    private static bool InvariantsTerminal(string status) => Brokering.Invariants.InvariantChecker.TerminalStates.Contains(status);

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
