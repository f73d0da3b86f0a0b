using Brokering.Compliance.Buyers;
using Brokering.Compliance.Screening;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

/// <summary>
/// Unscreened buyers (docs/compliance.md, "Screening (now)"): a buyer organisation compliance has not registered cannot be screened (its legal name
/// and ultimate parent are unknown), so under the production default it is refused, whatever the rest of the
/// reservation says; registered, it is screened as usual; and the development policy screens what the reservation says.
/// </summary>
[Trait(TestCategory.Trait, TestCategory.Unit)]
public sealed class UnregisteredBuyerTests
{
    private const string H20 = "NVIDIA-H20";

    [Fact]
    public void An_unregistered_buyer_is_refused_under_the_default_policy_though_everything_else_would_be_approved()
    {
        var decision = Screener.Screen(Reference.Reservation("US", buyerId: "stranger-servers", lines: [(H20, 4)]), Context(UnregisteredBuyerPolicy.Refuse));

        decision.Outcome.ShouldBe(Verdict.Denied);
        decision.Reasons.ShouldContain(reason => reason.Contains("stranger-servers is not registered with compliance", StringComparison.Ordinal));
        decision.Buyer.ShouldBeNull();
    }

    [Fact]
    public void A_registered_buyer_is_screened_and_approved_under_the_same_policy()
    {
        var decision = Screener.Screen(Reference.Reservation("US", buyerId: "acme-servers", lines: [(H20, 4)]),
            Context(UnregisteredBuyerPolicy.Refuse, Registration("acme-servers", "Acme Servers Inc.", "US")));

        decision.Outcome.ShouldBe(Verdict.Approved);
        decision.Buyer.ShouldNotBeNull().LegalName.ShouldBe("Acme Servers Inc.");
    }

    [Fact]
    public void A_registered_buyer_whose_legal_name_is_listed_is_denied_though_its_reservation_names_a_clean_end_user()
    {
        var decision = Screener.Screen(Reference.Reservation("US", buyerId: "front-company", lines: [(H20, 4)]),
            Context(UnregisteredBuyerPolicy.Refuse, Registration("front-company", "Inspur Group Co., Ltd.", "SG")));

        decision.Outcome.ShouldBe(Verdict.Denied);
        decision.Matches.ShouldContain(match => match.Role == Screener.BuyerRole);
    }

    [Fact]
    public void The_development_policy_screens_an_unregistered_buyers_reservation_on_what_it_says()
    {
        var decision = Screener.Screen(Reference.Reservation("US", buyerId: "stranger-servers", lines: [(H20, 4)]),
            Context(UnregisteredBuyerPolicy.ScreenReservationOnly));

        decision.Outcome.ShouldBe(Verdict.Approved);
    }

    private static ScreeningContext Context(UnregisteredBuyerPolicy policy, BuyerRegistration? buyer = null) =>
        Reference.Context() with { UnregisteredBuyers = policy, Buyer = buyer };

    private static BuyerRegistration Registration(string buyerId, string legalName, string country) => new()
    {
        Id = Guid.NewGuid(),
        BuyerId = buyerId,
        LegalName = legalName,
        Country = country,
        RecordedBy = "officer",
        RecordedAt = Reference.Now.AddDays(-1),
    };
}
