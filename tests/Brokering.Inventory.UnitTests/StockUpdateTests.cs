using Brokering.Contracts.Grpc.Common;
using Brokering.Contracts.Inventory;
using Brokering.Inventory.Holds;
using Brokering.Inventory.StockFeeds;
using CsCheck;

namespace Brokering.Inventory.UnitTests;

public sealed class StockUpdateValidatorTests
{
    [Fact]
    public void A_snapshot_item_needs_a_non_negative_quantity_on_hand_a_price_and_a_currency()
    {
        var (valid, errors) = StockUpdateValidator.ValidateItems(StockUpdateKind.Snapshot,
        [
            new StockFeedItem("NVIDIA-H20", "SG1", QuantityOnHand: 3, UnitPrice: 1m, Currency: "usd"),
            new StockFeedItem("NVIDIA-H20", "SG2", QuantityChange: 3, UnitPrice: 1m, Currency: "USD"),
            new StockFeedItem("NVIDIA-H20", "SG3", QuantityOnHand: 3),
            new StockFeedItem("NVIDIA-H20", "SG4", QuantityOnHand: 3, UnitPrice: 1m, Currency: "US$"),
            new StockFeedItem("NVIDIA-H20", "SG1", QuantityOnHand: 4, UnitPrice: 1m, Currency: "USD"),
            null,
        ]);

        valid.Single().Currency.ShouldBe("USD");
        errors.Select(e => e.Field).ShouldBe(["items[1].quantityChange", "items[2].unitPrice", "items[3].currency", "items[4].warehouse", "items[5]"]);
    }

    [Fact]
    public void An_update_needs_a_distributor_a_positive_sequence_and_a_kind()
    {
        var errors = StockUpdateValidator.ValidateUpdate(new StockFeedUpdate(" ", 0, null, []));

        errors.Keys.ShouldBe(["distributorId", "sequence", "kind"], ignoreOrder: true);
    }

    [Fact]
    public void Place_holds_validation_names_the_offending_fields()
    {
        var now = DateTimeOffset.UtcNow;
        var command = new PlaceHoldsCommand(Guid.Empty, -1, now, [new HoldLine("", "arrow", "SG1", 0, -1m)]);

        command.Validate(now).Keys.ShouldBe(
            ["reservationId", "planVersion", "expiresAt", "holds[0].sku", "holds[0].quantity", "holds[0].maxUnitPrice"], ignoreOrder: true);
    }

    [Fact]
    public void Decimal_values_round_trip_exactly_to_nine_places() =>
        Gen.Decimal[-1_000_000_000m, 1_000_000_000m].Select(d => decimal.Round(d, 9)).Sample(d => DecimalValue.FromDecimal(d).ToDecimal() == d);
}

public sealed class DecimalValueBoundsTests
{
    [Fact]
    public void Every_price_within_the_bound_survives_the_wire_exactly()
    {
        Gen.Long[0, (long)Brokering.Contracts.InputBounds.MaxUnitPrice].Select(Gen.Int[0, 999_999_999])
            .Sample((units, nanos) =>
            {
                var price = units + (nanos / 1_000_000_000m);
                Brokering.Contracts.InputBounds.IsUnitPrice(price).ShouldBeTrue();
                DecimalValue.TryFromDecimal(price, out var wire).ShouldBeTrue();
                wire.IsWellFormed.ShouldBeTrue();
                wire.ToDecimal().ShouldBe(price);
            });
    }

    [Fact]
    public void A_decimal_whose_whole_part_exceeds_int64_is_refused_by_try_from_decimal_instead_of_throwing()
    {
        DecimalValue.TryFromDecimal(9_300_000_000_000_000_000m, out _).ShouldBeFalse();
        Brokering.Contracts.InputBounds.IsUnitPrice(9_300_000_000_000_000_000m).ShouldBeFalse();
    }

    [Theory]
    [InlineData(1L, 1_000_000_000)]
    [InlineData(1L, -5)]
    [InlineData(-1L, 5)]
    [InlineData(0L, int.MinValue)]
    public void Nanos_out_of_range_or_of_the_other_sign_are_malformed(long units, int nanos) =>
        new DecimalValue { Units = units, Nanos = nanos }.IsWellFormed.ShouldBeFalse();
}
