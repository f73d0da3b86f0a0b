using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Brokering.Invariants;
using Npgsql;
using Shouldly;
using static Brokering.Testing.Scramble.ScrambleDriver;

namespace Brokering.EndToEnd.Tests;

/// <summary>The scramble runs alone: its cutoffs are seconds apart and two shared cores must not make it late.</summary>
[CollectionDefinition(nameof(ScrambleCollection), DisableParallelization = true)]
public sealed class ScrambleCollection;

/// <summary>
/// The race the system exists for, end to end: five buyers compete for scarce A800/H800 stock at three
/// distributors whose feeds change under them (snapshots and deltas, one dropping below what is held),
/// a listed end user, a licence covering one buyer's H800s, mixed fill policies and confirmations, and
/// midway a new rule set that pulls the cutoff to seconds ahead. Every outcome the rules fix is asserted,
/// and the invariants of docs/invariants.md are checked on the three databases afterwards.
/// </summary>
[Collection(nameof(ScrambleCollection))]
public sealed class ScrambleTests(SystemUnderTest system) : IClassFixture<SystemUnderTest>
{
    private const string A800 = ScrambleCast.A800;
    private const string H800 = ScrambleCast.H800;
    private const decimal A800Ceiling = 22_000m;
    private const decimal H800Ceiling = 32_000m;

    // Buyers (tenants) and what each one stands for in the story.
    private const string ListedBuyer = "huanan-channel";   // its end user is an alias of a listed party
    private const string AutoBuyer = "h3c-servers";          // all-or-none, auto-confirmed
    private const string PartialBuyer = "xfusion-dc";        // allow-partial, confirmed by hand
    private const string ShortfallBuyer = "powerleader";     // all-or-none, its hold falls short
    private const string LicensedBuyer = "nettrix";          // holds a licence for H800 to CN

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);

    /// <summary>How far ahead the first scenario rule set puts the cutoff: the scramble must be over well before.</summary>
    private static readonly TimeSpan FirstCutoffLead = TimeSpan.FromMinutes(4);

    /// <summary>How far ahead of publication the second rule set pulls the cutoff.</summary>
    private static readonly TimeSpan MovedCutoffLead = TimeSpan.FromSeconds(10);

    /// <summary>How long a saga gets to react to a shortfall before the buyer confirms anyway.</summary>
    private static readonly TimeSpan ShortfallReaction = TimeSpan.FromSeconds(6);

    private readonly ScrambleDriver driver = system.Scramble();
    private readonly List<(string Buyer, string Reference, Guid Id)> tracked = [];

    [Fact]
    public async Task Five_buyers_racing_for_scarce_GPUs_against_a_moving_cutoff_end_as_the_rules_say_and_break_no_invariant()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var output = TestContext.Current.TestOutputHelper!;
        var failures = new List<string>();
        void Expect(bool condition, string failure)
        {
            if (!condition)
            {
                failures.Add(failure);
                output.WriteLine($"EXPECTATION FAILED: {failure}");
            }
        }

        var started = DateTimeOffset.UtcNow;
        var run = Guid.NewGuid().ToString("N")[..8];
        void Log(string message) => output.WriteLine($"[{(DateTimeOffset.UtcNow - started).TotalSeconds,6:0.0}s] {message}");

        // ---- Phase 0: the scenario. The historical 2023 cutoff for CN is long past, so compliance publishes a
        // rule set modelled on it that takes effect in four minutes; a licence covers nettrix's H800s to CN.
        var firstCutoff = started + FirstCutoffLead;
        await PublishRuleSetAsync($"scramble-{run}-a", firstCutoff, cancellationToken);
        Log("first scenario rule set published");
        var licenceUntil = TruncateToMicroseconds(started.AddDays(1));
        await RecordLicenceAsync($"SCR-{run}", LicensedBuyer, H800, quantity: 20, validFrom: started.AddMinutes(-1), licenceUntil, cancellationToken);
        await FeedAsync("arrow", 1, "Snapshot", [OnHand(A800, "HKG-1", 60, 21_000m), OnHand(H800, "HKG-1", 40, 31_000m)], cancellationToken);
        await FeedAsync("avnet", 1, "Snapshot", [OnHand(A800, "SGP-1", 40, 21_500m), OnHand(H800, "SGP-1", 30, 31_500m)], cancellationToken);
        await FeedAsync("wpg", 1, "Snapshot", [OnHand(A800, "TPE-1", 30, 20_500m), OnHand(H800, "TPE-1", 50, 30_500m)], cancellationToken);
        Log($"rule set scramble-{run}-a in force from {firstCutoff:O}; licence SCR-{run}; stock A800 130, H800 120");

        // ---- Phase 1: the buyers arrive. Who gets what is fixed by order where it matters: h3c's all-or-none
        // order comes before xfusion's greedy partial one (H800) and powerleader's (A800), powerleader's before nettrix's.
        // The listed end user is turned away at screening whenever it comes, so it races h3c.
        var (listed, auto) = await BothAsync(
            SubmitAndRestAsync(ListedBuyer, "PO-LC-1", "Langchao Group Co., Ltd.", "AllOrNone", "Auto",
                [new(A800, 10, A800Ceiling), new(H800, 10, H800Ceiling)], cancellationToken),
            SubmitAndRestAsync(AutoBuyer, "PO-H3C-1", "Hangzhou Cloud Compute Ltd.", "AllOrNone", "Auto",
                [new(A800, 40, A800Ceiling), new(H800, 30, H800Ceiling)], cancellationToken));
        var (partial, shortfall) = await BothAsync(
            SubmitAndRestAsync(PartialBuyer, "PO-XF-1", "Zhengzhou Training Cluster Co., Ltd.", "AllowPartial", "Manual",
                [new(H800, 150, H800Ceiling)], cancellationToken, minFillRatio: 0.5m),
            SubmitAndRestAsync(ShortfallBuyer, "PO-PL-1", "Shenzhen Render Farm Co., Ltd.", "AllOrNone", "Manual",
                [new(A800, 60, A800Ceiling)], cancellationToken));
        var unconfirmed = await SubmitAndRestAsync(LicensedBuyer, "PO-NTX-1", "Tianjin Inference Services Ltd.", "AllOrNone", "Manual",
            [new(A800, 20, A800Ceiling)], cancellationToken);
        Log("phase 1 done: " + await StatusesAsync(cancellationToken));

        var partialView = await driver.GetAsync(PartialBuyer, partial, cancellationToken);
        Expect(ReservationView.Status(partialView) == "AwaitingStock" && ReservationView.Allocated(partialView) == 90,
            $"xfusion's partial reservation should wait for stock holding the 90 H800 left after h3c's 30: {partialView}");
        var shortfallView = await driver.GetAsync(ShortfallBuyer, shortfall, cancellationToken);
        Expect(ReservationView.Status(shortfallView) == "Held" && ReservationView.Allocated(shortfallView) == 60,
            $"powerleader's all-or-none reservation should hold 60 A800 (arrow 50, avnet 10): {shortfallView}");

        // ---- Phase 2: the feeds move. avnet gets 20 more H800 (delta): xfusion tops up to 110. wpg restocks A800
        // (snapshot). arrow's snapshot then reports 40 A800 where 50 are held and 10 committed: a shortfall.
        await FeedAsync("avnet", 2, "Delta", [Change(H800, "SGP-1", +20)], cancellationToken);
        partialView = await driver.WaitUntilAsync(PartialBuyer, partial,
            view => ReservationView.Status(view) == "AwaitingStock" && ReservationView.Allocated(view) == 110,
            "AwaitingStock with 110 H800 held after the top-up", Patience, cancellationToken);
        Log($"xfusion topped up: {Describe(partialView)}");

        await FeedAsync("wpg", 2, "Snapshot", [OnHand(A800, "TPE-1", 60, 20_500m), OnHand(H800, "TPE-1", 50, 30_500m)], cancellationToken);
        await FeedAsync("arrow", 2, "Snapshot", [OnHand(A800, "HKG-1", 40, 21_000m), OnHand(H800, "HKG-1", 40, 31_000m)], cancellationToken);
        var flagged = await HoldsAsync(shortfall, cancellationToken);
        Log($"powerleader's holds in inventory after arrow's snapshot: {string.Join(", ", flagged)}");
        Expect(flagged.Any(hold => hold.Status == "Shortfall" && hold.Distributor == "arrow" && hold.Quantity == 50),
            $"arrow's snapshot (40 on hand, 50 held, 10 committed) should flag powerleader's 50-unit hold as shortfall: {string.Join(", ", flagged)}");

        // A saga that reacts to the shortfall re-allocates the 50 units (wpg and arrow have 60 free): give it time.
        var before = ReservationView.AllocatedByDistributor(shortfallView);
        var reacted = await TryWaitAsync(ShortfallBuyer, shortfall,
            view => !ReservationView.Status(view).Equals("Held", StringComparison.Ordinal)
                || !ReservationView.AllocatedByDistributor(view).SequenceEqual(before),
            ShortfallReaction, cancellationToken);
        shortfallView = await driver.WaitUntilRestingAsync(ShortfallBuyer, shortfall, Patience, cancellationToken);
        Log($"powerleader after the shortfall ({(reacted ? "the saga reacted" : $"the saga did not react within {ShortfallReaction.TotalSeconds} s")}): {Describe(shortfallView)}");

        // The buyers confirm by hand: xfusion at 110/150 (≥ 0.5), powerleader in full.
        await driver.ConfirmAcceptedAsync(PartialBuyer, partial, cancellationToken);
        if (ReservationView.AwaitsBuyer(ReservationView.Status(shortfallView)))
        {
            await driver.ConfirmAcceptedAsync(ShortfallBuyer, shortfall, cancellationToken);
        }

        await driver.WaitUntilEndedAsync(PartialBuyer, partial, Patience, cancellationToken);
        await driver.WaitUntilEndedAsync(ShortfallBuyer, shortfall, Patience, cancellationToken);
        Log("phase 2 done: " + await StatusesAsync(cancellationToken));

        // ---- Phase 3: the rush. Four buyers fire eight small auto-confirmed partial reservations at once for what is left.
        var rushBuyers = new[] { AutoBuyer, PartialBuyer, ShortfallBuyer, LicensedBuyer };
        var rush = await Task.WhenAll(rushBuyers.SelectMany(buyer => Enumerable.Range(1, 2).Select(async i =>
        {
            var reference = $"RUSH-{buyer}-{i}";
            var body = ScrambleDriver.Reservation(reference, $"{buyer} rush end user {i} Ltd.", "AllowPartial", "Auto",
                [new Line(A800, 5, A800Ceiling), new Line(H800, 5, H800Ceiling)], minFillRatio: 0.5m);
            var id = await driver.SubmitAcceptedAsync(buyer, body, cancellationToken);
            lock (tracked)
            {
                tracked.Add((buyer, reference, id));
            }

            return (Buyer: buyer, Id: id);
        })));
        foreach (var (buyer, id) in rush)
        {
            await driver.WaitUntilRestingAsync(buyer, id, Patience, cancellationToken);
        }

        Log("phase 3 (rush) done: " + await StatusesAsync(cancellationToken));
        DateTimeOffset.UtcNow.ShouldBeLessThan(firstCutoff - TimeSpan.FromSeconds(20),
            "The run is too slow: the first cutoff would arrive before the rule change the test is about.");

        // ---- Phase 4: the window is cut short: a new rule set pulls the cutoff to seconds ahead. Every reservation
        // still open is re-screened at once and, unconfirmed, ends CutoffMissed when the new cutoff passes.
        var movedCutoff = DateTimeOffset.UtcNow + MovedCutoffLead;
        await PublishRuleSetAsync($"scramble-{run}-b", movedCutoff, cancellationToken);
        Log($"rule set scramble-{run}-b moves the cutoff to {movedCutoff:O}");
        foreach (var (buyer, _, id) in Tracked())
        {
            await driver.WaitUntilEndedAsync(buyer, id, MovedCutoffLead + Patience, cancellationToken);
        }

        while (DateTimeOffset.UtcNow <= movedCutoff + TimeSpan.FromSeconds(1))
        {
            await Task.Delay(200, cancellationToken);
        }

        Log("phase 4 done: " + await StatusesAsync(cancellationToken));

        // ---- Phase 5: after the cutoff. wpg reports 20 more H800 (delta). nettrix's licence covers H800 to CN, so an
        // H800-only reservation is approved with the licence's validity as its cutoff; its A800s need a licence it lacks.
        await FeedAsync("wpg", 3, "Delta", [Change(H800, "TPE-1", +20)], cancellationToken);
        var licensed = await SubmitAndRestAsync(LicensedBuyer, "PO-NTX-2", "Tianjin Inference Services Ltd.", "AllOrNone", "Auto",
            [new(H800, 10, H800Ceiling)], cancellationToken);
        var unlicensed = await SubmitAndRestAsync(LicensedBuyer, "PO-NTX-3", "Tianjin Inference Services Ltd.", "AllOrNone", "Auto",
            [new(A800, 5, A800Ceiling)], cancellationToken);
        foreach (var (buyer, _, id) in Tracked())
        {
            await driver.WaitUntilEndedAsync(buyer, id, Patience, cancellationToken);
        }

        Log("phase 5 done: " + await StatusesAsync(cancellationToken));

        // ---- Phase 6: the 2023 story's last twist, "effective immediately". A fresh scenario cutoff two minutes
        // ahead lets h3c hold 5 A800; then a rule set takes effect the instant it is published. The held,
        // unconfirmed reservation missed its cutoff: it must end CutoffMissed, its holds released.
        await PublishRuleSetAsync($"scramble-{run}-c", DateTimeOffset.UtcNow.AddMinutes(2), cancellationToken);
        var overtaken = await SubmitAndRestAsync(AutoBuyer, "PO-H3C-2", "Hangzhou Cloud Compute Ltd.", "AllOrNone", "Manual",
            [new(A800, 5, A800Ceiling)], cancellationToken);
        Expect(ReservationView.Status(await driver.GetAsync(AutoBuyer, overtaken, cancellationToken)) == "Held",
            "h3c's second reservation should be Held before the rule takes effect immediately");
        await PublishRuleSetAsync($"scramble-{run}-d", DateTimeOffset.UtcNow, cancellationToken);
        await driver.WaitUntilEndedAsync(AutoBuyer, overtaken, Patience, cancellationToken);
        Log("phase 6 done: " + await StatusesAsync(cancellationToken));

        // ---- The outcome, as the buyers see it and as inventory committed it, and the invariants.
        var report = await system.CheckInvariantsAsync(cancellationToken: cancellationToken);
        var views = new Dictionary<Guid, JsonElement>();
        foreach (var (buyer, _, id) in Tracked())
        {
            views[id] = await driver.GetAsync(buyer, id, cancellationToken);
        }

        output.WriteLine(OutcomeTable(views, report));
        output.WriteLine(report.ToString());

        ReservationOutcome Outcome(Guid id) => report.Reservations.Single(outcome => outcome.Id == id);
        string Summary(Guid id) => $"{Describe(views[id])}; committed {Units(Outcome(id).CommittedByDistributor)}";

        // The buyer is told only that export screening refused it; the officer's record names the list and the match.
        string listedEvidence;
        using (var officer = system.ComplianceOfficer())
        {
            listedEvidence = await officer.GetStringAsync(new Uri($"/v1/decisions/{listed}", UriKind.Relative), cancellationToken);
        }

        Expect(ReservationView.Status(views[listed]) == "Rejected"
            && (ReservationView.Reason(views[listed]) ?? string.Empty).StartsWith("Refused by export screening", StringComparison.Ordinal)
            && !(ReservationView.Reason(views[listed]) ?? string.Empty).Contains("Entity List", StringComparison.Ordinal)
            && listedEvidence.Contains("Entity List", StringComparison.Ordinal),
            $"the listed end user's reservation should be Rejected, telling the buyer no evidence and the officer the Entity List match: {Summary(listed)}");
        Expect(ReservationView.Status(views[auto]) == "Confirmed"
            && Outcome(auto).CommittedByDistributor.SequenceEqual(Units(("arrow", 10), ("wpg", 60))),
            $"h3c's all-or-none auto reservation should be Confirmed with 40 A800 (wpg 30, arrow 10) and 30 H800 (wpg): {Summary(auto)}");
        Expect(ReservationView.Status(views[partial]) == "Confirmed"
            && Outcome(partial).CommittedByDistributor.SequenceEqual(Units(("arrow", 40), ("avnet", 50), ("wpg", 20))),
            $"xfusion's partial reservation should be Confirmed with the 110 H800 it held (arrow 40, avnet 50, wpg 20): {Summary(partial)}");
        Expect(ReservationView.Status(views[shortfall]) == "Confirmed" && Outcome(shortfall).UnitsCommitted == 60,
            $"powerleader's all-or-none reservation should be Confirmed with all 60 A800 committed, re-allocated after arrow's shortfall: {Summary(shortfall)}");
        Expect(ReservationView.Status(views[unconfirmed]) == "CutoffMissed" && Outcome(unconfirmed).UnitsCommitted == 0,
            $"nettrix's unconfirmed A800 reservation should end CutoffMissed when the moved cutoff passes: {Summary(unconfirmed)}");
        Expect(ReservationView.Status(views[licensed]) == "Confirmed" && Outcome(licensed).UnitsCommitted == 10
            && views[licensed].GetProperty("cutoff").GetDateTimeOffset() is var licensedCutoff
            && (licensedCutoff - licenceUntil).Duration() < TimeSpan.FromMilliseconds(1)
            && views[licensed].GetProperty("updatedAt").GetDateTimeOffset() > movedCutoff,
            $"nettrix's H800 reservation after the cutoff should be Confirmed under its licence, with the licence's end as cutoff ({licenceUntil:O}): {Summary(licensed)}");
        Expect(ReservationView.Status(views[unlicensed]) == "Rejected"
            && (ReservationView.Reason(views[unlicensed]) ?? string.Empty).Contains("licence", StringComparison.OrdinalIgnoreCase),
            $"nettrix's A800 reservation after the cutoff should be Rejected for want of a licence: {Summary(unlicensed)}");
        Expect(ReservationView.Status(views[overtaken]) == "CutoffMissed" && Outcome(overtaken).UnitsCommitted == 0,
            $"h3c's held reservation should end CutoffMissed when a rule set takes effect immediately (its cutoff is now in the past): {Summary(overtaken)}");
        Expect(views.Values.Any(view => ReservationView.Status(view) == "CutoffMissed"), "at least one reservation should end CutoffMissed");
        Expect(views.Values.All(view => ReservationView.TerminalStates.Contains(ReservationView.Status(view))), "every reservation should have ended");
        Expect(report.Checks.Single(check => check.Name == InvariantChecker.NoOversell).Passed, "no stock level may be oversold");
        Expect(report.Passed, $"every invariant should hold:\n{report}");
        Log($"done in {(DateTimeOffset.UtcNow - started).TotalSeconds:0.0} s");

        failures.ShouldBeEmpty(string.Join("\n", failures));
    }

    private async Task<Guid> SubmitAndRestAsync(
        string buyer, string reference, string endUser, string fillPolicy, string confirmation, Line[] lines,
        CancellationToken cancellationToken, decimal? minFillRatio = null)
    {
        var id = await driver.SubmitAcceptedAsync(buyer, ScrambleDriver.Reservation(reference, endUser, fillPolicy, confirmation, lines, minFillRatio), cancellationToken);
        lock (tracked)
        {
            tracked.Add((buyer, reference, id));
        }

        await driver.WaitUntilRestingAsync(buyer, id, Patience, cancellationToken);
        return id;
    }

    private static async Task<(T, T)> BothAsync<T>(Task<T> first, Task<T> second)
    {
        await Task.WhenAll(first, second);
        return (await first, await second);
    }

    private async Task<bool> TryWaitAsync(string buyer, Guid id, Func<JsonElement, bool> condition, TimeSpan patience, CancellationToken cancellationToken)
    {
        try
        {
            await driver.WaitUntilAsync(buyer, id, condition, "changed", patience, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private List<(string Buyer, string Reference, Guid Id)> Tracked()
    {
        lock (tracked)
        {
            return [.. tracked];
        }
    }

    private async Task<string> StatusesAsync(CancellationToken cancellationToken)
    {
        var statuses = new List<string>();
        foreach (var (buyer, reference, id) in Tracked())
        {
            statuses.Add($"{reference}={ReservationView.Status(await driver.GetAsync(buyer, id, cancellationToken))}");
        }

        return string.Join(", ", statuses);
    }

    private async Task PublishRuleSetAsync(string version, DateTimeOffset effectiveAt, CancellationToken cancellationToken)
    {
        var answer = await driver.PublishRuleSetAsync(version, effectiveAt, "End-to-end scramble: the 2023 rule, effective at a test-chosen instant.", cancellationToken);
        answer.Status.ShouldBe(HttpStatusCode.Created, answer.Body);
    }

    private async Task RecordLicenceAsync(
        string number, string buyerId, string sku, long quantity, DateTimeOffset validFrom, DateTimeOffset validUntil, CancellationToken cancellationToken)
    {
        using var officer = system.ComplianceOfficer();
        using var response = await officer.PostAsJsonAsync("/v1/licences", new
        {
            number,
            buyerId,
            skus = new[] { sku },
            destinationCountry = "CN",
            quantity,
            validFrom,
            validUntil,
        }, cancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    private Task FeedAsync(string distributorId, long sequence, string kind, object[] items, CancellationToken cancellationToken) =>
        driver.PublishAppliedAsync(distributorId, sequence, kind, items, cancellationToken);

    private sealed record HoldState(string Distributor, string Sku, long Quantity, string Status)
    {
        public override string ToString() => $"{Quantity} × {Sku} at {Distributor} {Status}";
    }

    /// <summary>A reservation's holds as inventory records them (read-only, to pin down what a feed did).</summary>
    private async Task<List<HoldState>> HoldsAsync(Guid reservationId, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(system.InventoryDatabase);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT distributor_id, sku, quantity, status FROM holds WHERE reservation_id = @id ORDER BY created_at", connection);
        command.Parameters.AddWithValue("id", reservationId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var holds = new List<HoldState>();
        while (await reader.ReadAsync(cancellationToken))
        {
            holds.Add(new HoldState(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3)));
        }

        return holds;
    }

    private string OutcomeTable(Dictionary<Guid, JsonElement> views, InvariantReport report)
    {
        var rows = Tracked().Select(entry =>
        {
            var view = views[entry.Id];
            var outcome = report.Reservations.SingleOrDefault(candidate => candidate.Id == entry.Id);
            var reason = ReservationView.Reason(view) ?? string.Empty;
            return new[]
            {
                entry.Buyer, entry.Reference, entry.Id.ToString()[..8], ReservationView.Status(view),
                Units(ReservationView.AllocatedByDistributor(view)),
                outcome is null ? "?" : Units(outcome.CommittedByDistributor),
                (view.GetProperty("updatedAt").GetDateTimeOffset() - view.GetProperty("submittedAt").GetDateTimeOffset()).TotalSeconds.ToString("0.0 s", CultureInfo.InvariantCulture),
                reason.Length > 110 ? reason[..110] + "…" : reason,
            };
        }).ToList();
        string[] header = ["buyer", "reference", "id", "status", "shown to buyer", "committed", "took", "reason"];
        var widths = header.Select((title, column) => rows.Select(row => row[column].Length).Append(title.Length).Max()).ToArray();
        var table = new StringBuilder("Outcome of the scramble\n");
        foreach (var row in rows.Prepend(header))
        {
            table.AppendLine(string.Join(" | ", row.Select((cell, column) => cell.PadRight(widths[column]))).TrimEnd());
        }

        return table.ToString();
    }

    private static string Units(IEnumerable<KeyValuePair<string, long>> byDistributor)
    {
        var parts = byDistributor.Where(pair => pair.Value != 0).Select(pair => string.Create(CultureInfo.InvariantCulture, $"{pair.Key} {pair.Value}")).ToList();
        return parts.Count == 0 ? "-" : string.Join(", ", parts);
    }

    private static SortedDictionary<string, long> Units(params (string Distributor, long Quantity)[] units) =>
        new(units.ToDictionary(unit => unit.Distributor, unit => unit.Quantity), StringComparer.Ordinal);

    private static string Describe(JsonElement view) =>
        $"{ReservationView.Status(view)}, shown {Units(ReservationView.AllocatedByDistributor(view))} ({ReservationView.Reason(view) ?? "no reason"})";

    private static DateTimeOffset TruncateToMicroseconds(DateTimeOffset instant) =>
        new(instant.Ticks - (instant.Ticks % 10), instant.Offset);
}
