using Brokering.Compliance.Licences;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.Screening;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

[Trait(TestCategory.Trait, TestCategory.Unit)]
public sealed class ScreeningTests
{
    private const string H100 = "NVIDIA-H100-SXM5-80GB";
    private const string H20 = "NVIDIA-H20";

    private static readonly DateTimeOffset Accelerated2023 = new(2023, 10, 23, 4, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_restricted_product_to_China_needs_a_licence_because_the_2023_cutoff_is_past()
    {
        var decision = Screener.Screen(Reference.Reservation("CN", lines: [(H100, 10)]), Reference.Context());

        decision.Outcome.ShouldBe(Verdict.LicenceRequired);
        var line = decision.Lines.ShouldHaveSingleItem();
        line.Outcome.ShouldBe(Verdict.LicenceRequired);
        line.Cutoff.ShouldBe(Accelerated2023);
        line.Classification.ShouldBe("3A090.a");
        line.Reasons.ShouldContain(reason => reason.Contains("no licence on file", StringComparison.Ordinal));
        decision.RuleSet!.Version.ShouldBe("2023-10-17");
        decision.List!.Version.ShouldBe("v1");
    }

    [Fact]
    public void A_product_outside_3A090_is_approved_without_a_cutoff()
    {
        var decision = Screener.Screen(Reference.Reservation("CN", lines: [(H20, 100)]), Reference.Context());

        decision.Outcome.ShouldBe(Verdict.Approved);
        decision.Lines.ShouldHaveSingleItem().Cutoff.ShouldBeNull();
    }

    [Theory]
    [InlineData("US")]
    [InlineData("IL")] // in D:4 but also A:6, which the rule excludes
    [InlineData("CY")] // in D:5 but also A:6
    public void A_destination_outside_the_rule_is_approved_without_a_cutoff(string destination)
    {
        var decision = Screener.Screen(Reference.Reservation(destination, lines: [(H100, 10)]), Reference.Context());

        decision.Outcome.ShouldBe(Verdict.Approved);
        decision.Lines.ShouldHaveSingleItem().Cutoff.ShouldBeNull();
    }

    [Theory]
    [InlineData("MO")]
    [InlineData("HK")]
    [InlineData("RU")]
    [InlineData("SA")] // D:4
    public void Macau_Hong_Kong_and_D_group_destinations_need_a_licence(string destination)
    {
        Screener.Screen(Reference.Reservation(destination, lines: [(H100, 10)]), Reference.Context()).Outcome.ShouldBe(Verdict.LicenceRequired);
    }

    [Fact]
    public void A_cutoff_still_ahead_approves_the_line_until_that_cutoff()
    {
        var cutoff = Reference.Now.AddMinutes(10);

        var decision = Screener.Screen(
            Reference.Reservation("CN", lines: [(H100, 10), (H20, 5)]), Reference.Context(Reference.Scenario("scenario", cutoff)));

        decision.Outcome.ShouldBe(Verdict.Approved);
        decision.Lines[0].Cutoff.ShouldBe(cutoff);
        decision.Lines[1].Cutoff.ShouldBeNull();
    }

    [Theory]
    [InlineData("CN", "LicenceRequired")]
    [InlineData("MO", "LicenceRequired")]
    [InlineData("JP", "Approved")]
    public void A_buyer_whose_ultimate_parent_is_headquartered_in_D5_or_Macau_needs_a_licence_whatever_the_destination(
        string parentHeadquarters, string outcome)
    {
        var expected = Enum.Parse<Verdict>(outcome);
        var reservation = Reference.Reservation("US", buyerParent: new ScreeningParty("Example Holdings", parentHeadquarters), lines: [(H100, 10)]);

        var decision = Screener.Screen(reservation, Reference.Context());

        decision.Outcome.ShouldBe(expected);
        if (expected == Verdict.LicenceRequired)
        {
            decision.Lines[0].Reasons.ShouldContain(reason => reason.Contains("ultimate parent", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("INSPUR GROUP CO., LTD.")]
    [InlineData("Inspur (Group) Company Limited")]
    [InlineData("Langchao")]
    public void A_listed_end_user_is_denied_with_the_match_as_evidence(string endUser)
    {
        var decision = Screener.Screen(Reference.Reservation("US", endUser: endUser, endUserCountry: "CN", lines: [(H20, 1)]), Reference.Context());

        decision.Outcome.ShouldBe(Verdict.Denied);
        decision.Lines.ShouldHaveSingleItem().Outcome.ShouldBe(Verdict.Denied);
        var match = decision.Matches.ShouldHaveSingleItem();
        match.Role.ShouldBe(Screener.EndUserRole);
        match.EntryName.ShouldBe("Inspur Group Co., Ltd.");
        match.Threshold.ShouldBe(0.85);
        match.Cleared.ShouldBeFalse();
        decision.Reasons.ShouldContain(reason => reason.Contains("matches 'Inspur Group Co., Ltd.'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("In\u0455pur Group", true)]
    [InlineData("Inspur Group", false)]
    [InlineData("Инспур", false)]
    public void A_match_records_for_the_officer_whether_the_name_was_disguised_by_mixing_scripts(string endUser, bool disguised)
    {
        var decision = Screener.Screen(Reference.Reservation("US", endUser: endUser, endUserCountry: "CN", lines: [(H20, 1)]), Reference.Context());

        decision.Matches.ShouldHaveSingleItem().MixesScripts.ShouldBe(disguised);
    }

    [Fact]
    public void A_calling_service_is_told_a_party_is_listed_but_not_which_entry_or_how_close_while_other_reasons_stay()
    {
        var decisionId = Guid.NewGuid();
        var decision = Screener.Screen(
            Reference.Reservation("X1", endUser: "In\u0455pur Group", endUserCountry: "CN", lines: [(H20, 1)]), Reference.Context());

        var reasons = Screener.ForCaller(decision, decisionId);

        decision.Reasons.ShouldContain(reason => reason.Contains("score", StringComparison.Ordinal));
        reasons.ShouldNotContain(reason => reason.Contains("score", StringComparison.Ordinal) || reason.Contains("Inspur", StringComparison.Ordinal)
            || reason.Contains("0.85", StringComparison.Ordinal) || reason.Contains("Entity List", StringComparison.Ordinal));
        reasons.ShouldContain(reason => reason.Contains($"restricted-party list; the evidence is with compliance officers under decision {decisionId}", StringComparison.Ordinal));
        // What is not evidence about a party, the buyer's own mistake here, is still said.
        reasons.ShouldContain(reason => reason.Contains("'X1' is not an ISO 3166-1 alpha-2 code", StringComparison.Ordinal));
    }

    [Fact]
    public void An_end_user_in_China_behind_an_unrestricted_destination_needs_the_licence_China_would()
    {
        var decision = Screener.Screen(Reference.Reservation("US", endUserCountry: "CN", lines: [(H100, 10), (H20, 1)]), Reference.Context());

        decision.Outcome.ShouldBe(Verdict.LicenceRequired);
        decision.Lines[0].Outcome.ShouldBe(Verdict.LicenceRequired);
        decision.Lines[0].Reasons.ShouldContain(reason => reason.Contains("the end user is in CN, not the destination US", StringComparison.Ordinal));
        decision.Lines[1].Outcome.ShouldBe(Verdict.Approved);
    }

    [Fact]
    public void A_licence_for_the_end_user_s_country_covers_a_line_it_governs_and_one_for_the_destination_does_not()
    {
        var forChina = LicenceFor(destination: "CN");
        var forUs = LicenceFor(destination: "US");
        var reservation = Reference.Reservation("US", endUserCountry: "CN", lines: [(H100, 10)]);

        Screener.Screen(reservation, Reference.Context(licences: new LicenceLedger([forChina], new Dictionary<Guid, long>()))).Outcome.ShouldBe(Verdict.Approved);
        Screener.Screen(reservation, Reference.Context(licences: new LicenceLedger([forUs], new Dictionary<Guid, long>()))).Outcome.ShouldBe(Verdict.LicenceRequired);
    }

    [Fact]
    public void An_end_user_in_an_unrestricted_country_does_not_lift_the_destination_s_restriction()
    {
        Screener.Screen(Reference.Reservation("CN", endUserCountry: "US", lines: [(H100, 10)]), Reference.Context()).Outcome.ShouldBe(Verdict.LicenceRequired);
    }

    [Fact]
    public void A_cleared_match_adds_nothing_to_what_the_calling_service_is_told()
    {
        var clearance = Clearance("Inspur Group", entryId: null);
        var decision = Screener.Screen(
            Reference.Reservation("US", endUser: "Inspur Group", endUserCountry: "CN", lines: [(H20, 1)]), Reference.Context(clearances: [clearance]));

        decision.Outcome.ShouldBe(Verdict.Approved);
        Screener.ForCaller(decision, Guid.NewGuid()).ShouldBe(decision.Reasons);
    }

    [Fact]
    public void A_listed_buyer_parent_is_denied()
    {
        var reservation = Reference.Reservation("US", buyerParent: new ScreeningParty("Moore Threads Technology", "CN"), lines: [(H20, 1)]);

        var decision = Screener.Screen(reservation, Reference.Context());

        decision.Outcome.ShouldBe(Verdict.Denied);
        decision.Matches.ShouldHaveSingleItem().Role.ShouldBe(Screener.BuyerParentRole);
    }

    [Fact]
    public void A_clearance_for_the_party_name_lets_a_false_positive_through_and_is_recorded()
    {
        const string apparel = "Moore Threads Apparel Ltd.";
        var reservation = Reference.Reservation("US", endUser: apparel, endUserCountry: "US", lines: [(H20, 1)]);
        Screener.Screen(reservation, Reference.Context()).Outcome.ShouldBe(Verdict.Denied);

        var clearance = Clearance("MOORE THREADS APPAREL LIMITED", Reference.Entry("Moore Threads").Id);
        var decision = Screener.Screen(reservation, Reference.Context(clearances: [clearance]));

        decision.Outcome.ShouldBe(Verdict.Approved);
        var match = decision.Matches.ShouldHaveSingleItem();
        match.Cleared.ShouldBeTrue();
        match.ClearanceReason.ShouldBe(clearance.Reason);
        match.ClearanceId.ShouldBe(clearance.Id);
    }

    [Fact]
    public void A_clearance_for_another_name_or_another_entry_clears_nothing()
    {
        var reservation = Reference.Reservation("US", endUser: "Moore Threads Apparel Ltd.", endUserCountry: "US", lines: [(H20, 1)]);

        Screener.Screen(reservation, Reference.Context(clearances: [Clearance("Moore Threads Textiles", null)])).Outcome.ShouldBe(Verdict.Denied);
        Screener.Screen(reservation, Reference.Context(clearances: [Clearance("Moore Threads Apparel", Reference.Entry("Inspur").Id)]))
            .Outcome.ShouldBe(Verdict.Denied);
    }

    [Fact]
    public void A_licence_on_file_approves_within_its_quantity_and_its_end_becomes_the_cutoff()
    {
        var licence = LicenceFor(quantity: 100);
        var ledger = new LicenceLedger([licence], new Dictionary<Guid, long> { [licence.Id] = 60 });

        var within = Screener.Screen(Reference.Reservation("CN", lines: [(H100, 40)]), Reference.Context(licences: ledger));

        within.Outcome.ShouldBe(Verdict.Approved);
        within.Lines[0].LicenceNumber.ShouldBe(licence.Number);
        within.Lines[0].Cutoff.ShouldBe(licence.ValidUntil);
        ledger.Granted.ShouldHaveSingleItem().Quantity.ShouldBe(40);
    }

    [Fact]
    public void A_licence_does_not_cover_more_than_its_remaining_units()
    {
        var licence = LicenceFor(quantity: 100);
        var ledger = new LicenceLedger([licence], new Dictionary<Guid, long> { [licence.Id] = 60 });

        var over = Screener.Screen(Reference.Reservation("CN", lines: [(H100, 41)]), Reference.Context(licences: ledger));

        over.Outcome.ShouldBe(Verdict.LicenceRequired);
        over.Lines[0].Reasons.ShouldContain(reason => reason.Contains("40 units left", StringComparison.Ordinal));
        ledger.Granted.ShouldBeEmpty();
    }

    [Fact]
    public void Two_lines_cannot_spend_the_same_licence_units_twice()
    {
        var licence = LicenceFor(quantity: 100, skus: [H100, "NVIDIA-H800-SXM5-80GB"]);
        var ledger = new LicenceLedger([licence], new Dictionary<Guid, long>());

        var decision = Screener.Screen(
            Reference.Reservation("CN", lines: [(H100, 70), ("NVIDIA-H800-SXM5-80GB", 70)]), Reference.Context(licences: ledger));

        decision.Lines[0].Outcome.ShouldBe(Verdict.Approved);
        decision.Lines[1].Outcome.ShouldBe(Verdict.LicenceRequired);
        decision.Outcome.ShouldBe(Verdict.LicenceRequired);
    }

    [Fact]
    public void A_licence_for_another_buyer_sku_or_destination_or_out_of_validity_covers_nothing()
    {
        Licence[] licences =
        [
            LicenceFor(buyerId: "buyer-2"),
            LicenceFor(skus: ["NVIDIA-H800-SXM5-80GB"]),
            LicenceFor(destination: "RU"),
            LicenceFor(validUntil: Reference.Now.AddSeconds(-1)),
            LicenceFor(validFrom: Reference.Now.AddDays(1)),
        ];
        var ledger = new LicenceLedger(licences, new Dictionary<Guid, long>());

        Screener.Screen(Reference.Reservation("CN", lines: [(H100, 1)]), Reference.Context(licences: ledger)).Outcome.ShouldBe(Verdict.LicenceRequired);
    }

    [Fact]
    public void A_stale_restricted_party_list_denies_everything()
    {
        var decision = Screener.Screen(
            Reference.Reservation("US", lines: [(H20, 1)]),
            Reference.Context(listRefreshedAt: Reference.Now.AddDays(-31), listMaxAge: TimeSpan.FromDays(30)));

        decision.Outcome.ShouldBe(Verdict.Denied);
        decision.Lines.ShouldHaveSingleItem().Outcome.ShouldBe(Verdict.Denied);
        decision.Reasons.ShouldContain(reason => reason.Contains("last confirmed current", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_product_is_denied_and_denies_the_reservation()
    {
        var decision = Screener.Screen(Reference.Reservation("US", lines: [(H20, 1), ("ACME-GPU-9000", 1)]), Reference.Context());

        decision.Outcome.ShouldBe(Verdict.Denied);
        decision.Lines[0].Outcome.ShouldBe(Verdict.Approved);
        decision.Lines[1].Outcome.ShouldBe(Verdict.Denied);
        decision.Lines[1].Reasons.ShouldHaveSingleItem().ShouldContain("unknown product");
    }

    [Fact]
    public void Without_a_published_rule_set_screening_denies()
    {
        Screener.Screen(Reference.Reservation("US", lines: [(H20, 1)]), Reference.Context(withoutRuleSet: true)).Outcome.ShouldBe(Verdict.Denied);
    }

    [Theory]
    [InlineData("", "Acme", "SG", "destination country is missing")]
    [InlineData("China", "Acme", "SG", "not an ISO 3166-1 alpha-2 code")]
    [InlineData("US", "", "SG", "end user's name is missing")]
    [InlineData("US", "Acme", "", "end user's country is missing")]
    public void Missing_or_malformed_data_denies_with_the_reason(string destination, string endUser, string endUserCountry, string reason)
    {
        var decision = Screener.Screen(Reference.Reservation(destination, endUser, endUserCountry, lines: [(H20, 1)]), Reference.Context());

        decision.Outcome.ShouldBe(Verdict.Denied);
        decision.Reasons.ShouldContain(candidate => candidate.Contains(reason, StringComparison.Ordinal));
    }

    [Fact]
    public void A_reservation_without_lines_or_with_a_non_positive_quantity_is_denied()
    {
        Screener.Screen(Reference.Reservation("US", lines: []), Reference.Context()).Outcome.ShouldBe(Verdict.Denied);
        Screener.Screen(Reference.Reservation("US", lines: [(H20, 0)]), Reference.Context()).Outcome.ShouldBe(Verdict.Denied);
    }

    [Fact]
    public void The_evidence_keeps_the_inputs_and_the_product_figures()
    {
        var input = Reference.Reservation("CN", lines: [(H100, 10)]);

        var decision = Screener.Screen(input, Reference.Context());

        decision.Inputs.ShouldBe(input);
        decision.Lines[0].Specs!.InterconnectGBps.ShouldBe(900);
        decision.Lines[0].Tpp.ShouldBe(15832);
        decision.DecidedAt.ShouldBe(Reference.Now);
    }

    private static PartyClearance Clearance(string partyName, Guid? entryId) => new()
    {
        Id = Guid.NewGuid(),
        PartyName = partyName,
        CanonicalName = PartyNameNormalizer.Canonical(partyName),
        EntryId = entryId,
        Reason = "A clothing retailer in Ohio, unrelated to the GPU maker.",
        ClearedBy = "officer@example.com",
        ClearedAt = Reference.Now.AddHours(-1),
    };

    private static Licence LicenceFor(
        long quantity = 1000,
        string buyerId = "buyer-1",
        string destination = "CN",
        string[]? skus = null,
        DateTimeOffset? validFrom = null,
        DateTimeOffset? validUntil = null) => new()
    {
        Id = Guid.NewGuid(),
        Number = $"D{Guid.NewGuid():N}"[..10],
        NumberKey = string.Empty,
        BuyerId = buyerId,
        Skus = [.. skus ?? [H100]],
        DestinationCountry = destination,
        Quantity = quantity,
        ValidFrom = validFrom ?? Reference.Now.AddDays(-10),
        ValidUntil = validUntil ?? Reference.Now.AddDays(300),
        RecordedAt = Reference.Now.AddDays(-10),
    };
}
