using Brokering.Ordering.Catalogue;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>
/// Ordering's copy of the catalogue calls unknown only what a fresh copy does not list, and vouches for nothing it
/// cannot be sure of (undecided: the submission is refused as retryable, docs/security.md).
/// </summary>
public sealed class CatalogueCopyTests
{
    private readonly FakeTimeProvider clock = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
    private readonly CatalogueCopy copy;

    public CatalogueCopyTests() =>
        copy = new CatalogueCopy(clock, Options.Create(new OrderingOptions { CatalogueMaxAge = TimeSpan.FromHours(1) }));

    [Fact]
    public void Before_the_first_refresh_every_SKU_is_undecided_and_the_copy_is_not_loaded()
    {
        copy.Standing("NVIDIA-H100-SXM5-80GB").ShouldBe(SkuStanding.Undecided);
        copy.Standing("NO-SUCH-SKU").ShouldBe(SkuStanding.Undecided);
        copy.Loaded.ShouldBeFalse();
    }

    [Fact]
    public void A_fresh_copy_knows_its_SKUs_case_insensitively_and_calls_others_unknown()
    {
        copy.Replace(["NVIDIA-H100-SXM5-80GB", "NVIDIA-H20-96GB"], clock.GetUtcNow());

        copy.Standing("nvidia-h100-sxm5-80gb").ShouldBe(SkuStanding.Known);
        copy.Standing("NO-SUCH-SKU").ShouldBe(SkuStanding.Unknown);
    }

    [Fact]
    public void A_copy_older_than_the_maximum_age_still_knows_what_it_lists_and_cannot_call_anything_else_unknown()
    {
        copy.Replace(["NVIDIA-H100-SXM5-80GB"], clock.GetUtcNow());
        clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));

        copy.Standing("NVIDIA-H100-SXM5-80GB").ShouldBe(SkuStanding.Known);
        copy.Standing("NO-SUCH-SKU").ShouldBe(SkuStanding.Undecided);
        copy.Stale.ShouldBeTrue();
        copy.Loaded.ShouldBeTrue();
    }

    [Fact]
    public void An_empty_listing_is_not_taken_as_a_catalogue_without_products()
    {
        copy.Replace([], clock.GetUtcNow());

        copy.Standing("NVIDIA-H100-SXM5-80GB").ShouldBe(SkuStanding.Undecided);
        copy.Loaded.ShouldBeFalse();
    }
}
