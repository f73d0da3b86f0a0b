using Brokering.Compliance.RuleSets;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

[Trait(TestCategory.Trait, TestCategory.Unit)]
public sealed class CutoffChangeTests
{
    private static IEnumerable<(string Sku, Classification.ProductSpecs Specs)> Catalogue =>
        Reference.Products.Values.OrderBy(product => product.Sku, StringComparer.Ordinal).Select(product => (product.Sku, product.Specs));

    [Fact]
    public void A_scenario_rule_set_announces_its_cutoff_for_every_restricted_product_and_destination()
    {
        var cutoff = Reference.Now.AddMinutes(10);
        var scenario = Reference.Scenario("scenario", cutoff);

        var change = CutoffRules.Changes(Reference.Rule2023, scenario, Catalogue, Reference.Groups, Reference.Now).ShouldHaveSingleItem();

        change.RuleSetVersion.ShouldBe("scenario");
        change.NewCutoff.ShouldBe(cutoff);
        change.At.ShouldBe(Reference.Now);
        change.Skus.ShouldBe(
        [
            "NVIDIA-A100-SXM4-80GB", "NVIDIA-A800-SXM4-80GB", "NVIDIA-H100-PCIE-80GB", "NVIDIA-H100-SXM5-80GB",
            "NVIDIA-H800-SXM5-80GB", "NVIDIA-L4", "NVIDIA-L40S", "NVIDIA-RTX-4090",
        ]);
        change.DestinationCountries.ShouldContain("CN");
        change.DestinationCountries.ShouldContain("MO");
        change.DestinationCountries.ShouldContain("HK");
        change.DestinationCountries.ShouldNotContain("IL");
        change.DestinationCountries.ShouldNotContain("US");
    }

    [Fact]
    public void Moving_a_cutoff_earlier_announces_the_new_cutoff()
    {
        var first = Reference.Scenario("scenario-1", Reference.Now.AddMinutes(30), sequence: 3);
        var earlier = Reference.Scenario("scenario-2", Reference.Now.AddMinutes(5), sequence: 4);

        var change = CutoffRules.Changes(first, earlier, Catalogue, Reference.Groups, Reference.Now).ShouldHaveSingleItem();

        change.NewCutoff.ShouldBe(Reference.Now.AddMinutes(5));
        change.Skus.ShouldContain("NVIDIA-H100-SXM5-80GB");
        change.Skus.ShouldNotContain("NVIDIA-H20");
    }

    [Fact]
    public void A_rule_set_that_moves_no_cutoff_announces_nothing()
    {
        var same = Reference.Scenario("scenario-1", Reference.Now.AddMinutes(30));
        var again = Reference.Scenario("scenario-1b", Reference.Now.AddMinutes(30));

        CutoffRules.Changes(same, again, Catalogue, Reference.Groups, Reference.Now).ShouldBeEmpty();
    }

    [Fact]
    public void Publishing_the_2023_rule_after_the_2022_rule_groups_changes_by_cutoff()
    {
        var changes = CutoffRules.Changes(Reference.Rule2022, Reference.Rule2023, Catalogue, Reference.Groups, Reference.Now);

        // Datacenter products with TPP ≥ 4800 from 23 October; the L4 and the RTX 4090 from 17 November.
        changes.ShouldContain(change => change.NewCutoff == Reference.Rule2023.Definition.Accelerated!.EffectiveAt
            && change.Skus.Contains("NVIDIA-H800-SXM5-80GB") && change.DestinationCountries.Contains("RU"));
        changes.ShouldContain(change => change.NewCutoff == Reference.Rule2023.EffectiveAt
            && change.Skus.Contains("NVIDIA-L4") && change.Skus.Contains("NVIDIA-RTX-4090"));
        changes.ShouldAllBe(change => !change.Skus.Contains("NVIDIA-H20") && !change.Skus.Contains("NVIDIA-RTX-4090D"));
        // The H100 to CN was already restricted from 2022-10-07: its cutoff moved to the 2023 instant.
        changes.ShouldContain(change => change.Skus.Contains("NVIDIA-H100-SXM5-80GB") && change.DestinationCountries.Contains("CN"));
    }

    [Fact]
    public void The_parent_headquarters_rule_gives_a_cutoff_for_any_destination()
    {
        var assessment = CutoffRules.Assess(Reference.Rule2023, Reference.Products["NVIDIA-H100-SXM5-80GB"].Specs, "DE", "CN", Reference.Groups);

        assessment.Cutoff.ShouldBe(Reference.Rule2023.Definition.Accelerated!.EffectiveAt);
    }
}
