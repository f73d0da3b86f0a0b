using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.Reviews;
using Brokering.Compliance.Screening;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

/// <summary>The review band: a name close to a listed one, but not close enough to deny, waits for an officer.</summary>
[Trait(TestCategory.Trait, TestCategory.Unit)]
public sealed class PotentialMatchTests
{
    // Scores in the review band against "Inspur Group Co., Ltd." (below 0.85, at or above the default review threshold).
    private const string NearMiss = "Inspor Group";
    private const string H100 = "NVIDIA-H100-SXM5-80GB";
    private const string H20 = "NVIDIA-H20";

    private static ScreeningContext Reviewing(IReadOnlyList<PartyClearance>? reviewClearances = null) =>
        Reference.Context(matcher: Reference.ReviewingMatcher, reviewClearances: reviewClearances);

    [Fact]
    public void A_name_in_the_review_band_is_a_potential_match_with_its_evidence_and_its_lines_keep_their_cutoffs()
    {
        var best = Reference.ReviewingMatcher.Score(NearMiss)[0];
        best.Score.ShouldBeLessThan(Reference.ReviewingMatcher.Threshold);
        best.Score.ShouldBeGreaterThanOrEqualTo(Reference.ReviewingMatcher.ReviewThreshold);

        var decision = Screener.Screen(Reference.Reservation("CN", endUser: NearMiss, endUserCountry: "CN", lines: [(H100, 10)]),
            Reference.Context(matcher: Reference.ReviewingMatcher, ruleSet: Reference.Scenario("later", Reference.Now.AddDays(7))));

        decision.Outcome.ShouldBe(Verdict.PotentialMatch);
        var match = decision.Matches.ShouldHaveSingleItem();
        match.Potential.ShouldBeTrue();
        match.Cleared.ShouldBeFalse();
        match.EntryName.ShouldBe("Inspur Group Co., Ltd.");
        match.Score.ShouldBe(best.Score);
        match.ReviewThreshold.ShouldBe(Reference.ReviewingMatcher.ReviewThreshold);
        decision.Reasons.ShouldContain(reason => reason.Contains("a potential match, for a compliance officer to review", StringComparison.Ordinal));
        // Screened as if cleared, so an officer's clearance knows the cutoff it leads to.
        var line = decision.Lines.ShouldHaveSingleItem();
        line.Outcome.ShouldBe(Verdict.Approved);
        line.Cutoff.ShouldBe(Reference.Now.AddDays(7));
    }

    [Fact]
    public void Without_a_review_band_the_same_name_is_cleared()
    {
        Screener.Screen(Reference.Reservation("US", endUser: NearMiss, endUserCountry: "US", lines: [(H20, 1)]), Reference.Context())
            .Outcome.ShouldBe(Verdict.Approved);
    }

    [Theory]
    [InlineData("Inspire Group Co., Ltd.")]
    [InlineData("Birch Technology Ltd.")]
    [InlineData("Lang Chow Group")]
    [InlineData("Moore Industries Inc.")]
    [InlineData("Acme Cloud Pte. Ltd.")]
    [InlineData("Lion City Compute Pte. Ltd.")]
    [InlineData("Hangzhou Cloud Compute Ltd.")]
    public void Ordinary_names_and_near_misses_the_tests_expect_cleared_stay_below_the_review_band(string name)
    {
        Reference.ReviewingMatcher.Resemble(name).ShouldBeEmpty($"best: {Reference.ReviewingMatcher.Score(name)[0]}");
    }

    // Extra words diluted a listed name below the band ("Inspur Cloud Servers Supply Chain Holding Partners" scored 0.75):
    // a name that holds every distinctive word of a listed name, or a word within a letter or so of each, goes to an
    // officer however many words it adds. A listed name of five or six letters can be a surname or another language's
    // word (Biren Foods), so it is a potential match, not a denial.
    [Theory]
    [InlineData("Inspur Cloud Servers Supply Chain Holding Partners", "Inspur Group")]
    [InlineData("Inspur Alpha Beta Gamma Delta", "Inspur Group")]
    [InlineData("Cloud Servers Inspur Supply Chain", "Inspur Group")]
    [InlineData("Inspor Cloud Servers Supply Chain Partners", "Inspur Group")]
    [InlineData("Biren Robotics", "Shanghai Biren")]
    [InlineData("Biren Foods Ltd.", "Shanghai Biren")]
    [InlineData("Biren Lab", "Shanghai Biren")]
    [InlineData("Threads Moore Apparel Alpha Partners", "Moore Threads")]
    public void A_listed_name_among_other_words_is_at_least_a_potential_match_however_many_words_it_adds(string name, string entry)
    {
        var best = Reference.ReviewingMatcher.Resemble(name).ShouldHaveSingleItem($"best: {Reference.ReviewingMatcher.Score(name)[0]}");

        best.Entry.ShouldBe(Reference.Entry(entry));
        Reference.ReviewingMatcher.IsPotential(best.Score).ShouldBeTrue($"score {best.Score}");
    }

    // Eight distinctive letters or more, in the listed order, are the listed name itself: denied, whatever follows.
    [Theory]
    [InlineData("Loongson Zhongke Tianjin Partners", "Loongson")]
    [InlineData("Langchao Cloud Servers Supply Chain Holding Partners", "Inspur Group")]
    [InlineData("Moore Threads Apparel Alpha Beta Partners", "Moore Threads")]
    [InlineData("Longxin Zhongke Alpha Beta Gamma", "Loongson")]
    public void A_listed_name_of_eight_distinctive_letters_among_other_words_is_a_match(string name, string entry)
    {
        var best = Reference.ReviewingMatcher.Match(name).ShouldHaveSingleItem($"best: {Reference.ReviewingMatcher.Score(name)[0]}");

        best.Entry.ShouldBe(Reference.Entry(entry));
    }

    [Theory]
    [InlineData("Inspur Group")]
    [InlineData("In\u0455pur Group")]
    [InlineData("Langchao")]
    public void A_listed_name_is_still_denied_with_the_review_band(string endUser)
    {
        var decision = Screener.Screen(Reference.Reservation("US", endUser: endUser, endUserCountry: "US", lines: [(H20, 1)]), Reviewing());

        decision.Outcome.ShouldBe(Verdict.Denied);
        decision.Matches.ShouldContain(match => !match.Potential && match.EntryName == "Inspur Group Co., Ltd.");
    }

    [Fact]
    public void Anything_that_denies_outranks_a_potential_match()
    {
        var decision = Screener.Screen(Reference.Reservation("US", endUser: NearMiss, endUserCountry: "US", lines: [("ACME-9000", 1)]), Reviewing());

        decision.Outcome.ShouldBe(Verdict.Denied);
        decision.Matches.ShouldHaveSingleItem().Potential.ShouldBeTrue();
    }

    [Fact]
    public void An_officers_review_clearance_sets_the_potential_match_aside_and_the_reservation_is_approved()
    {
        var reservation = Reference.Reservation("US", endUser: NearMiss, endUserCountry: "US", lines: [(H20, 1)]);
        var underReview = Screener.Screen(reservation, Reviewing());
        var reviewId = Guid.NewGuid();

        var cleared = Screener.Screen(reservation, Reviewing([.. ReviewDesk.Clearances(underReview, reviewId, "a hotel chain", "officer", Reference.Now)]));

        cleared.Outcome.ShouldBe(Verdict.Approved);
        var match = cleared.Matches.ShouldHaveSingleItem();
        match.Cleared.ShouldBeTrue();
        match.ClearanceId.ShouldBe(reviewId);
        match.ClearanceReason.ShouldBe("a hotel chain");
    }

    [Fact]
    public void A_review_clearance_never_clears_a_match_at_or_above_the_threshold()
    {
        var reviewed = Screener.Screen(Reference.Reservation("US", endUser: NearMiss, endUserCountry: "US", lines: [(H20, 1)]), Reviewing());
        var clearances = ReviewDesk.Clearances(reviewed, Guid.NewGuid(), "cleared", "officer", Reference.Now)
            .Select(clearance => new PartyClearance
            {
                Id = clearance.Id,
                PartyName = "Inspur Group",
                CanonicalName = PartyNameNormalizer.Canonical("Inspur Group"),
                EntryId = clearance.EntryId,
                Reason = clearance.Reason,
                ClearedBy = clearance.ClearedBy,
                ClearedAt = clearance.ClearedAt,
            })
            .ToList();

        var decision = Screener.Screen(Reference.Reservation("US", endUser: "Inspur Group", endUserCountry: "US", lines: [(H20, 1)]), Reviewing(clearances));

        decision.Outcome.ShouldBe(Verdict.Denied);
    }

    [Fact]
    public void A_calling_service_is_told_a_review_is_pending_but_not_the_entry_or_the_score()
    {
        var decisionId = Guid.NewGuid();
        var decision = Screener.Screen(Reference.Reservation("US", endUser: NearMiss, endUserCountry: "US", lines: [(H20, 1)]), Reviewing());

        var reasons = Screener.ForCaller(decision, decisionId);

        reasons.ShouldContain($"a party to the reservation awaits a compliance officer's review under decision {decisionId}");
        reasons.ShouldNotContain(reason => reason.Contains("score", StringComparison.Ordinal) || reason.Contains("Inspur", StringComparison.Ordinal)
            || reason.Contains("Entity List", StringComparison.Ordinal));
    }
}
