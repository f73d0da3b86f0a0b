using Brokering.Compliance.Decisions;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

[Trait(TestCategory.Trait, TestCategory.Unit)]
public sealed class DecisionCsvTests
{
    [Theory]
    [InlineData("Approved", "Approved")]
    [InlineData("", "")]
    [InlineData("a, b", "\"a, b\"")]
    [InlineData("say \"no\"", "\"say \"\"no\"\"\"")]
    [InlineData("line\nbreak", "\"line\nbreak\"")]
    [InlineData("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\"")]
    [InlineData("+1", "'+1")]
    [InlineData("-2", "'-2")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    public void A_cell_is_quoted_as_RFC_4180_says_and_never_runs_as_a_spreadsheet_formula(string value, string cell) =>
        DecisionCsv.Cell(value).ShouldBe(cell);
}
