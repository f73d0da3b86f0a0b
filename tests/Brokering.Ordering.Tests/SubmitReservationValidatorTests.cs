using Brokering.Ordering.Reservations.Submit;
using Shouldly;

namespace Brokering.Ordering.Tests;

public sealed class SubmitReservationValidatorTests
{
    private static readonly OrderingOptions Options = new() { SupportedCurrencies = ["USD"], MaxQuantityPerLine = 1000, MaxLinesPerReservation = 5 };

    private static SubmitReservationRequest Valid() => new(
        "PO-1",
        new EndUserRequest("Acme", "US"),
        "US",
        new FillPolicyRequest("AllowPartial", 0.5m),
        "Manual",
        [new LineRequest("NVIDIA-H800-SXM5-80GB", 10, 100m, "USD")]);

    [Fact]
    public void A_complete_request_has_no_errors() =>
        SubmitReservationValidator.Validate(Valid(), Options).ShouldBeEmpty();

    [Theory]
    [InlineData("0.5", true)]
    [InlineData("0.999", true)]
    [InlineData("1", false)]
    [InlineData(null, false)]
    public void A_fill_ratio_under_one_beside_all_or_none_is_refused_rather_than_guessed(string? ratio, bool refused)
    {
        var request = Valid() with { FillPolicy = new FillPolicyRequest("AllOrNone", ratio is null ? null : decimal.Parse(ratio, System.Globalization.CultureInfo.InvariantCulture)) };

        var errors = SubmitReservationValidator.Validate(request, Options);

        errors.Keys.ShouldBe(refused ? ["fillPolicy.minFillRatio"] : []);
    }

    [Fact]
    public void Every_bad_field_is_named_by_its_path()
    {
        var request = Valid() with
        {
            EndUser = new EndUserRequest("", "XX"),
            DestinationCountry = "China",
            FillPolicy = new FillPolicyRequest("AllowPartial", 1.5m),
            Lines =
            [
                new LineRequest("NVIDIA-H800-SXM5-80GB", 0, 0m, "GBP"),
                new LineRequest("NVIDIA-H800-SXM5-80GB", 5000, 1m, "USD"),
            ],
        };

        var errors = SubmitReservationValidator.Validate(request, Options);

        errors.Keys.ShouldBe(
            ["endUser.name", "endUser.country", "destinationCountry", "fillPolicy.minFillRatio",
             "lines[0].quantity", "lines[0].maxUnitPrice", "lines[0].currency", "lines[1].sku", "lines[1].quantity"],
            ignoreOrder: true);
    }

    [Theory]
    [InlineData("9300000000000000000")]
    [InlineData("1000000000000.000000001")]
    [InlineData("1.0000000001")]
    public void A_max_unit_price_beyond_the_bound_or_finer_than_nine_decimals_is_refused(string price)
    {
        var request = Valid() with { Lines = [new LineRequest("NVIDIA-H800-SXM5-80GB", 10, decimal.Parse(price, System.Globalization.CultureInfo.InvariantCulture), "USD")] };

        SubmitReservationValidator.Validate(request, Options).Keys.ShouldBe(["lines[0].maxUnitPrice"]);
    }

    [Fact]
    public void A_max_unit_price_at_the_bound_is_accepted() =>
        SubmitReservationValidator.Validate(Valid() with { Lines = [new LineRequest("NVIDIA-H800-SXM5-80GB", 10, Brokering.Contracts.InputBounds.MaxUnitPrice, "USD")] }, Options)
            .ShouldBeEmpty();

    [Fact]
    public void Two_lines_spelling_one_sku_differently_are_refused_as_a_duplicate()
    {
        var request = Valid() with
        {
            Lines = [new LineRequest("NVIDIA-H800-SXM5-80GB", 10, 100m, "USD"), new LineRequest(" nvidia-h800-sxm5-80gb ", 10, 100m, "USD")],
        };

        SubmitReservationValidator.Validate(request, Options).Keys.ShouldBe(["lines[1].sku"]);
    }

    [Fact]
    public void A_sku_with_a_look_alike_letter_is_refused() =>
        SubmitReservationValidator.Validate(Valid() with { Lines = [new LineRequest("NVIDIA-Н800-SXM5-80GB", 10, 100m, "USD")] }, Options)
            .Keys.ShouldBe(["lines[0].sku"]);

    [Fact]
    public void A_line_that_is_null_is_refused_by_its_index_beside_the_other_lines_errors()
    {
        var request = Valid() with { Lines = [new LineRequest("NVIDIA-H800-SXM5-80GB", 10, 100m, "USD"), null!, new LineRequest("NVIDIA-H20", 0, 100m, "USD")] };

        SubmitReservationValidator.Validate(request, Options).Keys.ShouldBe(["lines[1]", "lines[2].quantity"], ignoreOrder: true);
    }

    [Fact]
    public void A_request_without_lines_is_refused() =>
        SubmitReservationValidator.Validate(Valid() with { Lines = [] }, Options).Keys.ShouldBe(["lines"]);

    [Fact]
    public void Unknown_fill_policy_and_confirmation_are_refused() =>
        SubmitReservationValidator.Validate(Valid() with { FillPolicy = new FillPolicyRequest("Greedy", null), Confirmation = "Maybe" }, Options)
            .Keys.ShouldBe(["fillPolicy.kind", "confirmation"], ignoreOrder: true);
}
