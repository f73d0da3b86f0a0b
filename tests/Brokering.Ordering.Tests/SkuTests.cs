using Brokering.Contracts;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>The one SKU spelling every service keys on (contracts' <see cref="Sku"/>).</summary>
public sealed class SkuTests
{
    [Theory]
    [InlineData("NVIDIA-H800-SXM5-80GB", "NVIDIA-H800-SXM5-80GB")]
    [InlineData("  nvidia-h800-sxm5-80gb\t", "NVIDIA-H800-SXM5-80GB")]
    [InlineData("ＮＶＩＤＩＡ－Ｈ２０", "NVIDIA-H20")]
    [InlineData("nvidia-h20\u00A0", "NVIDIA-H20")]
    public void Case_padding_and_compatibility_forms_fold_to_the_catalogue_spelling(string raw, string canonical) =>
        Sku.Normalize(raw).ShouldBe(canonical);

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("NVIDIA H20")]
    [InlineData("NVIDIA-Н20")] // Cyrillic En
    [InlineData("NVIDIA\u0000H20")]
    [InlineData("NVIDIA-H20\u200B")] // zero-width space
    [InlineData("\uD800")]
    public void Inner_spaces_look_alike_letters_and_control_characters_are_not_skus(string raw) =>
        Sku.Normalize(raw).ShouldBeNull();

    [Fact]
    public void A_sku_longer_than_the_bound_is_not_a_sku() =>
        Sku.Normalize(new string('A', InputBounds.MaxSkuLength + 1)).ShouldBeNull();

    [Fact]
    public void The_comparer_treats_spellings_of_one_sku_as_one_key()
    {
        var caps = new Dictionary<string, long>(Sku.Comparer) { ["NVIDIA-H800-SXM5-80GB"] = 1 };

        caps.ContainsKey(" nvidia-h800-sxm5-80gb ").ShouldBeTrue();
        caps.ContainsKey("NVIDIA-H800").ShouldBeFalse();
    }
}
