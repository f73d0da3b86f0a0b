using Brokering.Invariants;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>
/// The checker itself, on hand-made snapshots (no services): a consistent history passes, and each
/// breach of docs/invariants.md is reported by the check that owns it.
/// </summary>
public sealed class InvariantCheckerTests
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Cutoff = T0.AddMinutes(5);

    [Fact]
    public void A_reservation_confirmed_before_its_cutoff_with_every_unit_committed_passes_every_check()
    {
        var report = new History().Confirmed(committedAt: T0.AddMinutes(1)).Check();

        report.Passed.ShouldBeTrue(report.ToString());
        report.Checks.Count.ShouldBe(6);
        report.Reservations.Single().CommittedByDistributor["arrow"].ShouldBe(10);
    }

    [Fact]
    public void More_units_held_and_committed_than_on_hand_is_an_oversell()
    {
        var history = new History().Confirmed(committedAt: T0.AddMinutes(1));
        history.Levels[0] = history.Levels[0] with { OnHand = 8 };

        ShouldBreakOnly(history.Check(), InvariantChecker.NoOversell, "> 8 on hand");
    }

    [Fact]
    public void A_level_counter_that_disagrees_with_its_holds_is_reported()
    {
        var history = new History().Confirmed(committedAt: T0.AddMinutes(1));
        history.Levels[0] = history.Levels[0] with { OnHand = 20, Held = 5 };

        ShouldBreakOnly(history.Check(), InvariantChecker.NoOversell, "disagree");
    }

    [Fact]
    public void An_active_hold_left_behind_by_an_ended_reservation_is_lost()
    {
        var history = new History().Ended("Rejected", holdStatus: "Active");

        ShouldBreakOnly(history.Check(), InvariantChecker.NothingLost, "still Active although its reservation ended Rejected");
    }

    [Fact]
    public void Licence_units_still_drawn_for_a_reservation_that_ended_unconfirmed_are_lost_and_a_confirmed_one_keeps_its_own()
    {
        var cancelled = new History().Ended("Cancelled", holdStatus: "Released");
        cancelled.Drawdowns.Add(new DrawdownRow(Guid.NewGuid(), cancelled.Sagas[0].Id.ToString(), Sku, 10));
        var confirmed = new History().Confirmed(committedAt: T0.AddMinutes(1));
        confirmed.Drawdowns.Add(new DrawdownRow(Guid.NewGuid(), confirmed.Sagas[0].Id.ToString(), Sku, 10));

        ShouldBreakOnly(cancelled.Check(), InvariantChecker.NothingLost, "10 licence units of");
        confirmed.Check().Passed.ShouldBeTrue();
    }

    [Fact]
    public void A_reservation_still_in_flight_breaks_nothing_lost_only_when_every_reservation_must_have_ended()
    {
        var history = new History().Ended("Held", holdStatus: "Active");

        ShouldBreakOnly(history.Check(), InvariantChecker.NothingLost, "still Held");
        history.Check(new InvariantCheckOptions { RequireTerminal = false }).Passed.ShouldBeTrue();
    }

    [Fact]
    public void A_commit_at_the_cutoff_without_a_licence_breaks_the_cutoff()
    {
        ShouldBreakOnly(new History().Confirmed(committedAt: Cutoff).Check(), InvariantChecker.Cutoff, "at or after its cutoff");
    }

    [Fact]
    public void A_commit_after_the_cutoff_under_a_licence_valid_then_is_allowed()
    {
        var licenceUntil = T0.AddDays(1);
        var history = new History().Confirmed(committedAt: Cutoff.AddMinutes(1), lineCutoff: licenceUntil, licence: "L-1");
        history.Licences.Add(new LicenceRow("L-1", "buyer", [Sku], "CN", T0.AddDays(-1), licenceUntil));

        var report = history.Check();

        report.Passed.ShouldBeTrue(report.ToString());
    }

    [Fact]
    public void A_commit_relying_on_a_decision_older_than_a_rule_set_already_in_force_breaks_the_cutoff()
    {
        var history = new History().Confirmed(committedAt: T0.AddMinutes(2));
        history.RuleSets.Add(new RuleSetRow("immediately", T0.AddSeconds(90), null, T0.AddSeconds(90), 3));

        ShouldBreakOnly(history.Check(), InvariantChecker.Cutoff, "rule set immediately");
    }

    [Fact]
    public void A_confirmed_reservation_for_a_listed_alias_breaks_compliance_unless_an_officer_cleared_the_name()
    {
        var history = new History().Confirmed(committedAt: T0.AddMinutes(1), endUser: "Langchao Group Co., Ltd.");
        history.Entries.Add(new PartyEntryRow(Guid.NewGuid(), "Inspur Group Co., Ltd.", ["Langchao Group"], "Entity List", T0.AddDays(-400)));

        ShouldBreakOnly(history.Check(), InvariantChecker.Compliance, "is 'Langchao Group' of 'Inspur Group Co., Ltd.'");

        history.Clearances.Add(new ClearanceRow("LANGCHAO GROUP CO LTD", null, T0));
        history.Check().Passed.ShouldBeTrue();
    }

    [Fact]
    public void A_reservation_committed_on_a_decision_that_found_an_uncleared_match_breaks_compliance()
    {
        var history = new History().Confirmed(committedAt: T0.AddMinutes(1));
        history.Decisions[0] = history.Decisions[0] with { Matches = [new DecisionMatch("end_user", "Acme", "Acme Listed", "Entity List", Cleared: false)] };

        ShouldBreakOnly(history.Check(), InvariantChecker.Compliance, "uncleared");
    }

    [Fact]
    public void A_confirmation_resting_on_a_potential_match_breaks_compliance_until_an_officer_cleared_it_before_the_commit()
    {
        var history = new History().Confirmed(committedAt: T0.AddMinutes(1));
        var entry = Guid.NewGuid();
        var potential = history.Decisions[0] with
        {
            Id = Guid.NewGuid(),
            DecidedAt = T0,
            Outcome = "PotentialMatch",
            Matches = [new DecisionMatch("end_user", "Acme Cloud Inc.", "Acme Clout Ltd.", "Entity List", Cleared: false, Potential: true, EntryId: entry)],
        };
        history.Decisions.Insert(0, potential);

        ShouldBreakOnly(history.Check(), InvariantChecker.Compliance, "no compliance officer cleared it before the commit");

        history.Reviews.Add(new ReviewRow(potential.Id, "Confirmed", "officer", T0.AddSeconds(5), Guid.NewGuid()));
        ShouldBreakOnly(history.Check(), InvariantChecker.Compliance, "ruled Confirmed by officer");

        history.Reviews[0] = history.Reviews[0] with { Ruling = "Cleared", RuledAt = T0.AddMinutes(2) };
        ShouldBreakOnly(history.Check(), InvariantChecker.Compliance, "no compliance officer cleared it before the commit");

        history.Reviews[0] = history.Reviews[0] with { RuledAt = T0.AddSeconds(5) };
        history.Check().Passed.ShouldBeTrue(history.Check().ToString());
    }

    [Fact]
    public void An_approval_with_a_potential_match_no_one_cleared_breaks_compliance()
    {
        var history = new History().Confirmed(committedAt: T0.AddMinutes(1));
        history.Decisions[0] = history.Decisions[0] with
        {
            Matches = [new DecisionMatch("end_user", "Acme Cloud Inc.", "Acme Clout Ltd.", "Entity List", Cleared: false, Potential: true)],
        };

        ShouldBreakOnly(history.Check(), InvariantChecker.Compliance, "Approved despite an uncleared restricted-party match");
    }

    [Fact]
    public void Two_holds_for_one_line_of_one_plan_are_a_duplicate_effect()
    {
        var history = new History().Ended("Cancelled", holdStatus: "Released");
        history.Holds.Add(history.Holds[0] with { Id = Guid.NewGuid() });

        ShouldBreakOnly(history.Check(), InvariantChecker.ExactlyOnce, "2 holds for one line of plan 1");
    }

    [Fact]
    public void An_all_or_none_reservation_confirmed_with_a_hold_that_fell_short_breaks_confirmed_is_committed()
    {
        var history = new History().Confirmed(committedAt: T0.AddMinutes(1), quantity: 60);
        var shortHold = history.Holds[0] with { Id = Guid.NewGuid(), Quantity = 50, Status = "Shortfall", DistributorId = "avnet" };
        history.Holds.Add(shortHold);
        history.Sagas[0] = history.Sagas[0] with
        {
            Allocations = [.. history.Sagas[0].Allocations, new AllocationRow(Sku, "avnet", "W", shortHold.Id, 50)],
        };
        history.Levels.Add(new LevelRow("avnet", Sku, "W", 0, 0, 0));

        var report = history.Check();

        var check = report.Checks.Single(c => c.Name == InvariantChecker.ConfirmedIsCommitted);
        check.Violations.Select(v => v.Detail).ShouldContain(detail => detail.Contains("inventory has that hold Shortfall", StringComparison.Ordinal));
        check.Violations.Select(v => v.Detail).ShouldContain(detail => detail.Contains("10 of 60", StringComparison.Ordinal));
        report.Checks.Where(c => c.Name != InvariantChecker.ConfirmedIsCommitted).ShouldAllBe(c => c.Passed);
    }

    private static void ShouldBreakOnly(InvariantReport report, string check, string detail)
    {
        var failed = report.Checks.Where(c => !c.Passed).Select(c => c.Name).ToList();
        failed.ShouldBe([check], report.ToString());
        report.Violations.ShouldContain(v => v.Detail.Contains(detail, StringComparison.Ordinal), report.ToString());
    }

    /// <summary>One reservation's history across the three databases, built by hand.</summary>
    private sealed class History
    {
        private readonly Guid id = Guid.NewGuid();
        private readonly Guid decisionId = Guid.NewGuid();

        public List<ReservationRow> Reservations { get; } = [];
        public List<SagaRow> Sagas { get; } = [];
        public List<HoldRow> Holds { get; } = [];
        public List<LevelRow> Levels { get; } = [];
        public List<DecisionRow> Decisions { get; } = [];
        public List<RuleSetRow> RuleSets { get; } = [new("scenario", Cutoff, null, T0.AddMinutes(-10), 2)];
        public List<PartyEntryRow> Entries { get; } = [];
        public List<ClearanceRow> Clearances { get; } = [];
        public List<ReviewRow> Reviews { get; } = [];
        public List<LicenceRow> Licences { get; } = [];
        public List<DrawdownRow> Drawdowns { get; } = [];

        /// <summary>Confirmed: screened at T0, one hold at arrow committed at <paramref name="committedAt"/>.</summary>
        public History Confirmed(DateTimeOffset committedAt, long quantity = 10, DateTimeOffset? lineCutoff = null, string? licence = null, string endUser = "Acme Cloud Inc.")
        {
            var cutoff = lineCutoff ?? Cutoff;
            Add(quantity, endUser, "Confirmed", cutoff, holdStatus: "Committed", closedAt: committedAt, licence);
            Levels.Add(new LevelRow("arrow", Sku, "W", OnHand: 10, Held: 0, Committed: 10));
            return this;
        }

        /// <summary>A reservation in <paramref name="state"/> with one 10-unit hold in <paramref name="holdStatus"/>.</summary>
        public History Ended(string state, string holdStatus)
        {
            Add(10, "Acme Cloud Inc.", state, Cutoff, holdStatus, holdStatus == "Active" ? null : T0.AddMinutes(1), licence: null);
            Levels.Add(new LevelRow("arrow", Sku, "W", OnHand: 10, Held: holdStatus == "Active" ? 10 : 0, Committed: 0));
            return this;
        }

        public InvariantReport Check(InvariantCheckOptions? options = null) => InvariantChecker.Check(new SystemSnapshot
        {
            ReadAt = T0.AddMinutes(3),
            Reservations = Reservations,
            Sagas = Sagas,
            Holds = Holds,
            Levels = Levels,
            Decisions = Decisions,
            RuleSets = RuleSets,
            PartyEntries = Entries,
            Clearances = Clearances,
            Reviews = Reviews,
            Licences = Licences,
            Drawdowns = Drawdowns,
        }, options ?? new InvariantCheckOptions());

        private void Add(long quantity, string endUser, string state, DateTimeOffset cutoff, string holdStatus, DateTimeOffset? closedAt, string? licence)
        {
            var holdId = Guid.NewGuid();
            Reservations.Add(new ReservationRow(id, "buyer", "PO-1", endUser, "CN", "CN", "AllOrNone", 1m, [new LineRow(Sku, quantity)], T0));
            Sagas.Add(new SagaRow(id, state, "buyer", null, cutoff, decisionId.ToString(), [new AllocationRow(Sku, "arrow", "W", holdId, 10)], T0.AddMinutes(2)));
            Holds.Add(new HoldRow(holdId, id, 1, "arrow", Sku, "W", 10, holdStatus, Cutoff, T0.AddSeconds(30), closedAt, null));
            Decisions.Add(new DecisionRow(decisionId, id.ToString(), T0.AddSeconds(10), "Approved", "scenario", cutoff,
                [new DecisionLine(Sku, "Approved", cutoff, licence)], []));
        }
    }
}
