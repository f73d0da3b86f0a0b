using System.Globalization;

namespace Brokering.Invariants;

/// <summary>How strict a check is.</summary>
public sealed record InvariantCheckOptions
{
    /// <summary>
    /// After a run every accepted reservation must have ended (the default). A tool checking while
    /// traffic still flows sets this to false: only what is wrong whatever happens next is reported.
    /// </summary>
    public bool RequireTerminal { get; init; } = true;

    /// <summary>How long past its expiry an active hold may wait for inventory's expiry sweeper.</summary>
    public TimeSpan ExpiryGrace { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Checks the invariants of docs/invariants.md by reading the three services' databases (read-only): nothing lost, no oversell,
/// nothing committed at or after its cutoff without a licence, no compliance bypass, no duplicate
/// effect, and every Confirmed reservation committed as the buyer was told. Run it on a quiet system
/// (after a run, or with <see cref="InvariantCheckOptions.RequireTerminal"/> off during one).
/// </summary>
public static class InvariantChecker
{
    public const string NothingLost = "nothing lost (§4.2)";
    public const string NoOversell = "no oversell (§4.1)";
    public const string Cutoff = "cutoff (§4.3)";
    public const string Compliance = "compliance (§4.4)";
    public const string ExactlyOnce = "exactly-once (§4.5)";
    public const string ConfirmedIsCommitted = "confirmed = committed";

    /// <summary>
    /// The ended state that is a sale. The checker reads the databases without referencing the services, so it names
    /// the saga's states itself; <c>ReservationStatesTests</c> (ordering's unit tests) fails when they drift from the saga.
    /// </summary>
    public const string ConfirmedState = "Confirmed";

    /// <summary>The states a reservation never leaves.</summary>
    public static readonly IReadOnlySet<string> TerminalStates =
        new HashSet<string>([ConfirmedState, "Rejected", "Cancelled", "Expired", "CutoffMissed"], StringComparer.Ordinal);

    private const string Active = "Active";
    private const string Committed = "Committed";
    private const string Shortfall = "Shortfall";
    private static readonly HashSet<string> HoldStatuses = new(StringComparer.Ordinal) { Active, Committed, "Released", "Expired", Shortfall };

    public static async Task<InvariantReport> CheckAsync(
        InvariantDatabases databases, InvariantCheckOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(databases);
        var snapshot = await SystemSnapshot.LoadAsync(databases, cancellationToken);
        return Check(snapshot, options ?? new InvariantCheckOptions());
    }

    internal static InvariantReport Check(SystemSnapshot snapshot, InvariantCheckOptions options)
    {
        var world = new World(snapshot);
        var checks = new List<InvariantCheck>
        {
            CheckNothingLost(world, options),
            CheckNoOversell(world),
            CheckCutoff(world),
            CheckCompliance(world),
            CheckExactlyOnce(world),
            CheckConfirmedIsCommitted(world),
        };
        return new InvariantReport(snapshot.ReadAt, checks, Outcomes(world));
    }

    private static InvariantCheck CheckNothingLost(World world, InvariantCheckOptions options)
    {
        var violations = new List<Violation>();
        var notes = new List<string>();
        void Fail(string subject, string detail) => violations.Add(new Violation(NothingLost, subject, detail));

        foreach (var reservation in world.Snapshot.Reservations)
        {
            var subject = world.Describe(reservation.Id);
            if (!world.Sagas.TryGetValue(reservation.Id, out var saga))
            {
                if (options.RequireTerminal || reservation.SubmittedAt < world.Snapshot.ReadAt - options.ExpiryGrace)
                {
                    Fail(subject, $"accepted at {Instant(reservation.SubmittedAt)} but no saga ever picked it up");
                }
            }
            else if (options.RequireTerminal && !TerminalStates.Contains(saga.State))
            {
                Fail(subject, $"still {saga.State} ({saga.StatusReason ?? "no reason"}), not in a terminal state");
            }
        }

        foreach (var saga in world.Snapshot.Sagas.Where(saga => !world.Reservations.ContainsKey(saga.Id)))
        {
            Fail($"saga {saga.Id}", $"a {saga.State} saga without an accepted reservation");
        }

        foreach (var hold in world.Snapshot.Holds)
        {
            var subject = $"hold {hold.Id} ({hold.Quantity} × {hold.Sku} at {hold.DistributorId}/{hold.Warehouse}) of {world.Describe(hold.ReservationId)}";
            if (!HoldStatuses.Contains(hold.Status))
            {
                Fail(subject, $"unknown status '{hold.Status}'");
                continue;
            }

            if (!world.Reservations.ContainsKey(hold.ReservationId) && !world.Sagas.ContainsKey(hold.ReservationId))
            {
                Fail(subject, $"{hold.Status} hold of a reservation ordering does not know");
                continue;
            }

            var state = world.Sagas.TryGetValue(hold.ReservationId, out var saga) ? saga.State : null;
            var ended = state is not null && TerminalStates.Contains(state);
            if (hold.Status == Active && ended)
            {
                Fail(subject, $"still Active although its reservation ended {state}");
            }
            else if (hold.Status == Active && hold.ExpiresAt + options.ExpiryGrace < world.Snapshot.ReadAt)
            {
                Fail(subject, $"still Active {Seconds(world.Snapshot.ReadAt - hold.ExpiresAt)} after it expired at {Instant(hold.ExpiresAt)}");
            }
            else if (hold.Status == Committed && ended && state != ConfirmedState)
            {
                Fail(subject, $"committed although its reservation ended {state}");
            }
            else if (hold.Status == Shortfall && ended)
            {
                notes.Add($"{subject}: still Shortfall although its reservation ended {state} (holds no units; inventory closes it at its expiry {Instant(hold.ExpiresAt)})");
            }
        }

        // Compliance's licence units are set aside like stock: a reservation that ended without a sale gives them back.
        foreach (var drawdown in world.Snapshot.Drawdowns)
        {
            if (Guid.TryParse(drawdown.ReservationId, out var reservationId) && world.Sagas.TryGetValue(reservationId, out var saga)
                && TerminalStates.Contains(saga.State) && saga.State != ConfirmedState)
            {
                Fail(world.Describe(reservationId), $"{drawdown.Quantity} licence units of {drawdown.Sku} still drawn although the reservation ended {saga.State}");
            }
        }

        foreach (var saga in world.Snapshot.Sagas.Where(saga => saga.State == ConfirmedState))
        {
            if (!world.HoldsOf(saga.Id).Any(hold => hold.Status == Committed))
            {
                Fail(world.Describe(saga.Id), "Confirmed, yet inventory has no committed hold for it");
            }
        }

        return new InvariantCheck(
            NothingLost,
            "every accepted reservation has a saga and (after a run) a terminal state; no Active hold outlives its reservation or its expiry, "
            + "nor do licence units drawn for a reservation that ended unconfirmed; "
            + "only Confirmed reservations have committed holds, and every Confirmed one has some",
            world.Snapshot.Reservations.Count + world.Snapshot.Holds.Count, violations, notes);
    }

    private static InvariantCheck CheckNoOversell(World world)
    {
        var violations = new List<Violation>();
        var levels = world.Snapshot.Levels.ToDictionary(level => level.Key);
        var holdsByLevel = world.Snapshot.Holds.ToLookup(hold => hold.Level);
        foreach (var key in holdsByLevel.Select(group => group.Key).Where(key => !levels.ContainsKey(key)))
        {
            violations.Add(new Violation(NoOversell, Level(key), $"{holdsByLevel[key].Count()} hold(s) on a stock level inventory does not have"));
        }

        foreach (var level in world.Snapshot.Levels)
        {
            var active = holdsByLevel[level.Key].Where(hold => hold.Status == Active).Sum(hold => hold.Quantity);
            var committed = holdsByLevel[level.Key].Where(hold => hold.Status == Committed).Sum(hold => hold.Quantity);
            if (active + committed > level.OnHand)
            {
                violations.Add(new Violation(NoOversell, Level(level.Key),
                    $"active holds {active} + committed {committed} = {active + committed} > {level.OnHand} on hand"
                    + (committed > level.OnHand ? " (the distributor reported fewer units than were already committed)" : string.Empty)));
            }

            if (level.Held != active || level.Committed != committed)
            {
                violations.Add(new Violation(NoOversell, Level(level.Key),
                    $"the level's counters (held {level.Held}, committed {level.Committed}) disagree with its holds (active {active}, committed {committed})"));
            }
        }

        return new InvariantCheck(
            NoOversell,
            "for every stock level: active holds + committed holds ≤ on hand as last reported (shortfall holds gave their units back); "
            + "the level's held and committed counters equal the sums of its holds",
            world.Snapshot.Levels.Count, violations, []);
    }

    private static InvariantCheck CheckCutoff(World world)
    {
        var violations = new List<Violation>();
        var committed = world.Snapshot.Holds.Where(hold => hold.Status == Committed).ToList();
        foreach (var hold in committed)
        {
            var subject = $"hold {hold.Id} ({hold.Quantity} × {hold.Sku} at {hold.DistributorId}) of {world.Describe(hold.ReservationId)}";
            void Fail(string detail) => violations.Add(new Violation(Cutoff, subject, detail));
            if (hold.ClosedAt is not { } at)
            {
                Fail("committed, but without a commit time");
                continue;
            }

            var governing = world.DecisionsOf(hold.ReservationId).LastOrDefault(decision => decision.DecidedAt <= at);
            if (governing is null)
            {
                Fail($"committed at {Instant(at)} with no screening decision before it");
                continue;
            }

            var line = governing.Lines.FirstOrDefault(candidate => candidate.Sku == hold.Sku);
            if (line is null)
            {
                Fail($"committed at {Instant(at)}, but decision {governing.Id} says nothing about {hold.Sku}");
                continue;
            }

            if (line.LicenceNumber is { } number)
            {
                world.Reservations.TryGetValue(hold.ReservationId, out var reservation);
                var licence = world.Snapshot.Licences.FirstOrDefault(candidate => candidate.Number == number);
                if (licence is null)
                {
                    Fail($"committed at {Instant(at)} under licence {number}, which is not on file");
                }
                else if (at < licence.ValidFrom || at >= licence.ValidUntil)
                {
                    Fail($"committed at {Instant(at)} under licence {number}, valid {Instant(licence.ValidFrom)} to {Instant(licence.ValidUntil)} only");
                }
                else if (!licence.Skus.Contains(hold.Sku) || (reservation is not null
                    && (licence.BuyerId != reservation.BuyerId || licence.DestinationCountry != reservation.DestinationCountry)))
                {
                    Fail($"committed under licence {number}, which does not cover this buyer, SKU and destination");
                }

                continue;
            }

            if (line.Cutoff is not { } cutoff)
            {
                continue;
            }

            if (at >= cutoff)
            {
                Fail($"committed at {Instant(at)}, at or after its cutoff {Instant(cutoff)} (decision {governing.Id}), without a licence");
            }

            if (world.Sagas.TryGetValue(hold.ReservationId, out var saga) && saga.Cutoff is { } sagaCutoff && at >= sagaCutoff)
            {
                Fail($"committed at {Instant(at)}, at or after the saga's cutoff {Instant(sagaCutoff)}, without a licence");
            }

            // A rule set published between the decision and the commit may have moved the cutoff that was
            // in force at commit time. Assumed: a product it controlled before stays controlled.
            foreach (var ruleSet in world.Snapshot.RuleSets.Where(r => r.PublishedAt > governing.DecidedAt && r.PublishedAt <= at && r.EarliestEffect <= at))
            {
                Fail($"committed at {Instant(at)} on decision {governing.Id} of {Instant(governing.DecidedAt)}, but rule set {ruleSet.Version} "
                    + $"(published {Instant(ruleSet.PublishedAt)}) was in force from {Instant(ruleSet.EarliestEffect)}: the cutoff in force at commit time had passed");
            }
        }

        return new InvariantCheck(
            Cutoff,
            "every committed hold was committed strictly before the cutoff of the decision in force (and the saga's cutoff), "
            + "or under a licence on file valid at that instant; no rule set published after the decision had already taken effect",
            committed.Count, violations, []);
    }

    private static InvariantCheck CheckCompliance(World world)
    {
        var violations = new List<Violation>();
        void Fail(string subject, string detail) => violations.Add(new Violation(Compliance, subject, detail));

        var subjects = world.Snapshot.Sagas.Where(saga => saga.State == ConfirmedState).Select(saga => saga.Id)
            .Concat(world.Snapshot.Holds.Where(hold => hold.Status == Committed).Select(hold => hold.ReservationId))
            .Distinct()
            .ToList();
        foreach (var id in subjects)
        {
            var subject = world.Describe(id);
            var decisions = world.DecisionsOf(id);
            var commits = world.HoldsOf(id).Where(hold => hold.Status == Committed && hold.ClosedAt is not null).Select(hold => hold.ClosedAt!.Value).ToList();
            var firstCommit = commits.Count > 0 ? commits.Min() : world.Sagas.TryGetValue(id, out var s) ? s.UpdatedAt : world.Snapshot.ReadAt;

            if (world.Sagas.TryGetValue(id, out var saga))
            {
                var recorded = Guid.TryParse(saga.DecisionId, out var decisionId) ? decisions.FirstOrDefault(d => d.Id == decisionId) : null;
                if (recorded is null)
                {
                    Fail(subject, $"the saga rests on decision '{saga.DecisionId}', which compliance did not record for this reservation");
                }
                else if (recorded.Outcome != "Approved")
                {
                    Fail(subject, $"the saga rests on decision {recorded.Id}, whose outcome is {recorded.Outcome}");
                }
            }

            var governing = decisions.LastOrDefault(decision => decision.DecidedAt <= firstCommit);
            if (governing is null)
            {
                Fail(subject, $"committed at {Instant(firstCommit)} without any screening decision before it");
            }
            else if (governing.Outcome != "Approved" || governing.Lines.Any(line => line.Outcome != "Approved"))
            {
                Fail(subject, $"committed at {Instant(firstCommit)} while the latest decision ({governing.Id}) was {governing.Outcome}");
            }

            foreach (var decision in decisions.Where(decision => decision.DecidedAt <= firstCommit))
            {
                foreach (var match in decision.Matches.Where(match => !match.Cleared && !match.Potential))
                {
                    Fail(subject, $"compliance found '{match.QueriedName}' ({match.Role}) matching '{match.EntryName}' on the {match.List} "
                        + $"(decision {decision.Id}, uncleared), yet it was committed");
                }

                // A potential match is for an officer to rule on: the reservation may go on only once one cleared it,
                // on the review desk (a ruling on this decision) or with a standing clearance of the name, before the commit.
                foreach (var match in decision.Matches.Where(match => !match.Cleared && match.Potential))
                {
                    var ruling = world.RulingOn(decision.Id);
                    var reviewed = ruling is { Ruling: "Cleared" } && ruling.RuledAt <= firstCommit;
                    var standing = world.Snapshot.Clearances.Any(clearance =>
                        PartyNames.Key(clearance.PartyName) == PartyNames.Key(match.QueriedName)
                        && (clearance.EntryId is null || clearance.EntryId == match.EntryId) && clearance.ClearedAt <= firstCommit);
                    if (!reviewed && !standing)
                    {
                        Fail(subject, $"decision {decision.Id} found '{match.QueriedName}' ({match.Role}) a potential match for '{match.EntryName}' "
                            + $"on the {match.List}, and no compliance officer cleared it before the commit"
                            + (ruling is null ? string.Empty : $" (ruled {ruling.Ruling} by {ruling.RuledBy} at {Instant(ruling.RuledAt)})"));
                    }
                }
            }

            if (world.Reservations.TryGetValue(id, out var reservation))
            {
                var key = PartyNames.Key(reservation.EndUserName);
                foreach (var entry in world.Snapshot.PartyEntries.Where(entry => entry.AddedAt <= firstCommit))
                {
                    var listed = new[] { entry.Name }.Concat(entry.Aliases).FirstOrDefault(name => PartyNames.Key(name) == key);
                    var cleared = world.Snapshot.Clearances.Any(clearance =>
                        PartyNames.Key(clearance.PartyName) == key && (clearance.EntryId is null || clearance.EntryId == entry.Id) && clearance.ClearedAt <= firstCommit);
                    if (listed is not null && !cleared)
                    {
                        Fail(subject, $"its end user '{reservation.EndUserName}' is '{listed}' of '{entry.Name}' on the {entry.List}, with no clearance");
                    }
                }
            }
        }

        foreach (var decision in world.Snapshot.Decisions.Where(d => d.Outcome == "Approved" && d.Matches.Any(match => !match.Cleared)))
        {
            Fail($"decision {decision.Id} of reservation {decision.ReservationId}", "Approved despite an uncleared restricted-party match");
        }

        return new InvariantCheck(
            Compliance,
            "every Confirmed (or committed) reservation rests on an Approved decision, was Approved when first committed, "
            + "and no decision up to then found an uncleared listed party, nor a potential match no compliance officer cleared before the commit; "
            + "its end user is not plainly a listed name or alias without clearance",
            subjects.Count + world.Snapshot.Decisions.Count, violations, []);
    }

    private static InvariantCheck CheckExactlyOnce(World world)
    {
        var violations = new List<Violation>();
        void Fail(string subject, string detail) => violations.Add(new Violation(ExactlyOnce, subject, detail));

        foreach (var group in world.Snapshot.Holds.GroupBy(hold => hold.ReservationId))
        {
            var subject = world.Describe(group.Key);
            world.Reservations.TryGetValue(group.Key, out var reservation);
            foreach (var sku in group.GroupBy(hold => hold.Sku))
            {
                var requested = reservation?.Requested(sku.Key) ?? 0;
                if (reservation is not null && requested == 0)
                {
                    Fail(subject, $"{sku.Count()} hold(s) on {sku.Key}, which it did not ask for");
                    continue;
                }

                var committed = sku.Where(hold => hold.Status == Committed).Sum(hold => hold.Quantity);
                var live = sku.Where(hold => hold.Status is Active or Committed).Sum(hold => hold.Quantity);
                if (reservation is not null && committed > requested)
                {
                    Fail(subject, $"{committed} units of {sku.Key} committed for {requested} requested");
                }
                else if (reservation is not null && live > requested)
                {
                    Fail(subject, $"{live} units of {sku.Key} held or committed at once for {requested} requested");
                }
            }

            foreach (var duplicate in group.GroupBy(hold => (hold.PlanVersion, hold.DistributorId, hold.Sku, hold.Warehouse)).Where(g => g.Count() > 1))
            {
                Fail(subject, $"{duplicate.Count()} holds for one line of plan {duplicate.Key.PlanVersion} "
                    + $"({duplicate.Key.Sku} at {duplicate.Key.DistributorId}/{duplicate.Key.Warehouse}): {string.Join(", ", duplicate.Select(h => h.Id))}");
            }
        }

        foreach (var saga in world.Snapshot.Sagas)
        {
            foreach (var duplicate in saga.Allocations.GroupBy(a => a.HoldId).Where(g => g.Count() > 1))
            {
                Fail(world.Describe(saga.Id), $"the saga records hold {duplicate.Key} {duplicate.Count()} times");
            }

            if (world.Reservations.TryGetValue(saga.Id, out var reservation))
            {
                foreach (var sku in saga.Allocations.GroupBy(a => a.Sku).Where(g => g.Sum(a => a.Quantity) > reservation.Requested(g.Key)))
                {
                    Fail(world.Describe(saga.Id), $"the saga counts {sku.Sum(a => a.Quantity)} units of {sku.Key} allocated for {reservation.Requested(sku.Key)} requested");
                }
            }
        }

        return new InvariantCheck(
            ExactlyOnce,
            "per reservation and SKU: committed ≤ requested, active + committed ≤ requested; no two holds for one line of one plan; "
            + "the saga records each hold once and never more units than requested",
            world.Snapshot.Holds.Select(hold => hold.ReservationId).Distinct().Count() + world.Snapshot.Sagas.Count, violations, []);
    }

    private static InvariantCheck CheckConfirmedIsCommitted(World world)
    {
        var violations = new List<Violation>();
        var confirmed = world.Snapshot.Sagas.Where(saga => saga.State == ConfirmedState).ToList();
        foreach (var saga in confirmed)
        {
            var subject = world.Describe(saga.Id);
            void Fail(string detail) => violations.Add(new Violation(ConfirmedIsCommitted, subject, detail));
            var holds = world.HoldsOf(saga.Id).ToDictionary(hold => hold.Id);
            foreach (var allocation in saga.Allocations)
            {
                if (!holds.TryGetValue(allocation.HoldId, out var hold))
                {
                    Fail($"the buyer is shown {allocation.Quantity} × {allocation.Sku} at {allocation.DistributorId} (hold {allocation.HoldId}), a hold inventory does not have");
                }
                else if (hold.Status != Committed)
                {
                    Fail($"the buyer is shown {allocation.Quantity} × {allocation.Sku} at {allocation.DistributorId} (hold {allocation.HoldId}), "
                        + $"but inventory has that hold {hold.Status}{(hold.Reason is null ? string.Empty : $" ({hold.Reason})")}");
                }
            }

            var shown = saga.Allocations.Select(allocation => allocation.HoldId).ToHashSet();
            foreach (var hold in holds.Values.Where(hold => hold.Status == Committed && !shown.Contains(hold.Id)))
            {
                Fail($"inventory committed {hold.Quantity} × {hold.Sku} at {hold.DistributorId} (hold {hold.Id}), which the saga does not show");
            }

            if (!world.Reservations.TryGetValue(saga.Id, out var reservation))
            {
                continue;
            }

            var committed = holds.Values.Where(hold => hold.Status == Committed).ToList();
            if (reservation.FillPolicy == "AllOrNone")
            {
                foreach (var line in reservation.Lines)
                {
                    var units = committed.Where(hold => hold.Sku == line.Sku).Sum(hold => hold.Quantity);
                    if (units != line.Quantity)
                    {
                        Fail($"all-or-none, yet {units} of {line.Quantity} × {line.Sku} committed");
                    }
                }
            }
            else
            {
                var requested = reservation.Lines.Sum(line => line.Quantity);
                var units = committed.Sum(hold => hold.Quantity);
                if (units == 0 || (decimal)units / requested < reservation.MinFillRatio)
                {
                    Fail(string.Create(CultureInfo.InvariantCulture, $"partial fill of at least {reservation.MinFillRatio:0.###}, yet {units} of {requested} units committed"));
                }
            }
        }

        return new InvariantCheck(
            ConfirmedIsCommitted,
            "every Confirmed reservation: each hold the saga shows the buyer is committed in inventory and vice versa, "
            + "and the committed units satisfy its fill policy (all-or-none: every line in full; partial: at least the minimum ratio)",
            confirmed.Count, violations, []);
    }

    private static List<ReservationOutcome> Outcomes(World world) =>
        [.. world.Snapshot.Reservations.OrderBy(r => r.SubmittedAt).ThenBy(r => r.Id).Select(reservation =>
        {
            world.Sagas.TryGetValue(reservation.Id, out var saga);
            var holds = world.HoldsOf(reservation.Id);
            return new ReservationOutcome(
                reservation.Id, reservation.BuyerId, reservation.BuyerReference, saga?.State, saga?.StatusReason,
                reservation.Lines.Sum(line => line.Quantity), saga?.Allocations.Sum(a => a.Quantity) ?? 0,
                ByDistributor(holds.Where(hold => hold.Status == Committed)),
                ByDistributor(holds.Where(hold => hold.Status == Active)));
        })];

    private static SortedDictionary<string, long> ByDistributor(IEnumerable<HoldRow> holds) =>
        new(holds.GroupBy(hold => hold.DistributorId).ToDictionary(g => g.Key, g => g.Sum(hold => hold.Quantity)), StringComparer.Ordinal);

    private static string Level((string Distributor, string Sku, string Warehouse) key) => $"level {key.Distributor}/{key.Sku}/{key.Warehouse}";

    private static string Instant(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.0 s", CultureInfo.InvariantCulture);

    /// <summary>The snapshot indexed for the checks.</summary>
    private sealed class World(SystemSnapshot snapshot)
    {
        private readonly ILookup<Guid, HoldRow> holds = snapshot.Holds.ToLookup(hold => hold.ReservationId);
        private readonly ILookup<Guid, DecisionRow> decisions = snapshot.Decisions
            .Where(decision => Guid.TryParse(decision.ReservationId, out _))
            .OrderBy(decision => decision.DecidedAt)
            .ToLookup(decision => Guid.Parse(decision.ReservationId));

        private readonly Dictionary<Guid, ReviewRow> rulings = snapshot.Reviews.ToDictionary(review => review.DecisionId);

        public SystemSnapshot Snapshot { get; } = snapshot;
        public Dictionary<Guid, ReservationRow> Reservations { get; } = snapshot.Reservations.ToDictionary(r => r.Id);
        public Dictionary<Guid, SagaRow> Sagas { get; } = snapshot.Sagas.ToDictionary(s => s.Id);

        public IEnumerable<HoldRow> HoldsOf(Guid reservationId) => holds[reservationId];

        /// <summary>The officer's ruling on a potential-match decision, if any.</summary>
        public ReviewRow? RulingOn(Guid decisionId) => rulings.TryGetValue(decisionId, out var ruling) ? ruling : null;

        /// <summary>The reservation's decisions, oldest first.</summary>
        public IEnumerable<DecisionRow> DecisionsOf(Guid reservationId) => decisions[reservationId];

        public string Describe(Guid reservationId) =>
            Reservations.TryGetValue(reservationId, out var r)
                ? $"reservation {reservationId} ({r.BuyerId} {r.BuyerReference}, {(Sagas.TryGetValue(reservationId, out var s) ? s.State : "no saga")})"
                : $"reservation {reservationId}";
    }
}
