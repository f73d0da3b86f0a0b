using Brokering.Compliance.Classification;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

[Trait(TestCategory.Trait, TestCategory.Unit)]
public sealed class ClassificationTests
{
    // Figures verified against the datasheets cited in products.json: TPP = dense TOPS × bit length (the
    // highest over widths), PD = TPP ÷ die area. Expected classes under each rule set's thresholds.
    [Theory]
    [InlineData("NVIDIA-A100-SXM4-80GB", 4992, 6.044, "3A090.a", "3A090.a")]
    [InlineData("NVIDIA-A800-SXM4-80GB", 4992, 6.044, "none", "3A090.a")]
    [InlineData("NVIDIA-H100-SXM5-80GB", 15832, 19.450, "3A090.a", "3A090.a")]
    [InlineData("NVIDIA-H100-PCIE-80GB", 12104, 14.870, "3A090.a", "3A090.a")]
    [InlineData("NVIDIA-H800-SXM5-80GB", 15832, 19.450, "none", "3A090.a")]
    [InlineData("NVIDIA-H20", 2368, 2.909, "none", "none")]
    [InlineData("NVIDIA-L40S", 5864, 9.637, "none", "3A090.a")]
    [InlineData("NVIDIA-L4", 1940, 6.587, "none", "3A090.a")]
    [InlineData("NVIDIA-RTX-4090", 5284.8, 8.685, "none", "3A090.a")]
    [InlineData("NVIDIA-RTX-4090D", 4707.2, 7.736, "none", "none")]
    public void Each_catalogue_chip_is_classified_from_its_specs_under_the_2022_and_the_2023_rule(
        string sku, double tpp, double performanceDensity, string under2022, string under2023)
    {
        var specs = Reference.Products[sku].Specs;

        var rule2022 = Classifier.Classify(specs, Reference.Rule2022);
        var rule2023 = Classifier.Classify(specs, Reference.Rule2023);

        rule2022.Tpp.ShouldBe(tpp, 0.01);
        rule2022.PerformanceDensity.ShouldBe(performanceDensity, 0.001);
        rule2022.Classification.ShouldBe(under2022);
        rule2022.RuleSetVersion.ShouldBe("2022-10-07");
        rule2023.Classification.ShouldBe(under2023);
        rule2023.RuleSetVersion.ShouldBe("2023-10-17");
        rule2023.Reasons.ShouldNotBeEmpty();
    }

    [Fact]
    public void The_A800_escapes_the_2022_rule_only_because_its_interconnect_is_below_600_GBps()
    {
        var a800 = Reference.Products["NVIDIA-A800-SXM4-80GB"].Specs;

        Classifier.Classify(a800, Reference.Rule2022).Classification.ShouldBe(ExportClassification.None);
        Classifier.Classify(a800 with { InterconnectGBps = 600 }, Reference.Rule2022).Classification.ShouldBe(ExportClassification.A);
    }

    [Fact]
    public void The_reasons_name_the_thresholds_that_fired()
    {
        var result = Classifier.Classify(Reference.Products["NVIDIA-L4"].Specs, Reference.Rule2023);

        result.Reasons.ShouldHaveSingleItem().ShouldContain("TPP ≥ 1600 and PD ≥ 5.92");
        result.Reasons[0].ShouldContain("TPP 1940");
    }

    [Fact]
    public void A_non_datacenter_product_below_4800_is_outside_3A090_whatever_its_density()
    {
        var result = Classifier.Classify(Reference.Products["NVIDIA-RTX-4090D"].Specs, Reference.Rule2023);

        result.Classification.ShouldBe(ExportClassification.None);
        result.Reasons.ShouldHaveSingleItem().ShouldContain("not designed or marketed for datacenters");
    }

    [Theory]
    [InlineData(3000, 1500, true, "3A090.b")]   // PD 2: 2400 ≤ TPP < 4800 and 1.6 ≤ PD < 5.92
    [InlineData(2000, 500, true, "3A090.b")]    // PD 4: TPP ≥ 1600 and 3.2 ≤ PD < 5.92
    [InlineData(2000, 2000, true, "none")]      // PD 1
    [InlineData(1776, 300, true, "3A090.a")]    // PD exactly 5.92: thresholds are inclusive at the bottom
    [InlineData(4800, 4800, true, "3A090.a")]
    [InlineData(4799, 4799, true, "none")]
    [InlineData(3000, 1500, false, "none")]     // not for datacenters and TPP < 4800
    [InlineData(4800, 2400, false, "3A090.a")]
    public void The_2023_thresholds_sort_explicit_specs_into_a_b_and_none(double tpp, double dieArea, bool datacenter, string expected)
    {
        var specs = new ProductSpecs(new Dictionary<int, double> { [8] = tpp / 8 }, dieArea, 64, datacenter);

        Classifier.Classify(specs, Reference.Rule2023).Classification.ShouldBe(expected);
    }

    [Fact]
    public void TPP_is_the_highest_over_the_widths_counting_two_operations_per_MAC()
    {
        var specs = new ProductSpecs(new Dictionary<int, double> { [8] = 1979, [16] = 989.5, [64] = 67 }, 814, 900, true);

        specs.TotalProcessingPerformance.ShouldBe(15832);
        specs.PerformanceDensity.ShouldBe(15832 / 814.0);
    }

    [Theory]
    [InlineData("NVIDIA-A800-SXM4-80GB", "2023-01-01T00:00:00Z", "none", "2022-10-07")]
    [InlineData("NVIDIA-A800-SXM4-80GB", "2023-10-24T00:00:00Z", "3A090.a", "2023-10-17")] // datacenter, TPP ≥ 4800: accelerated
    [InlineData("NVIDIA-RTX-4090", "2023-10-24T00:00:00Z", "none", "2022-10-07")]          // not datacenter: 17 Nov still ahead
    [InlineData("NVIDIA-RTX-4090", "2023-11-20T00:00:00Z", "3A090.a", "2023-10-17")]
    [InlineData("NVIDIA-L4", "2023-10-24T00:00:00Z", "none", "2022-10-07")]                // TPP < 4800: not accelerated
    [InlineData("NVIDIA-L4", "2024-01-01T00:00:00Z", "3A090.a", "2023-10-17")]
    [InlineData("NVIDIA-H100-SXM5-80GB", "2022-01-01T00:00:00Z", "none", "")]              // before any rule
    public void Classification_at_an_instant_uses_the_rule_set_in_force_then(string sku, string at, string expected, string ruleSet)
    {
        var result = Classifier.ClassifyAt(
            [Reference.Rule2022, Reference.Rule2023], Reference.Products[sku].Specs, DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture));

        result.Classification.ShouldBe(expected);
        result.RuleSetVersion.ShouldBe(ruleSet);
    }

    [Fact]
    public void A_later_scenario_rule_set_does_not_change_classification_at_past_instants()
    {
        var scenario = Reference.Scenario("scenario", Reference.Now.AddMinutes(10));

        var past = Classifier.ClassifyAt([Reference.Rule2022, Reference.Rule2023, scenario], Reference.Products["NVIDIA-H800-SXM5-80GB"].Specs, Reference.Now);

        past.RuleSetVersion.ShouldBe("2023-10-17");
    }
}
