using Brokering.Compliance.RestrictedParties;

namespace Brokering.Compliance.Tests.Unit;

public sealed class PartyNameMatchingTests
{
    [Theory]
    [InlineData("INSPUR GROUP CO., LTD.", "Inspur Group")]
    [InlineData("Inspur (Group) Company Limited", "Inspur Group")]
    [InlineData("Group Inspur", "Inspur Group")]
    [InlineData("inspur group co ltd", "Inspur Group")]
    [InlineData("Inspur Group Corporation", "Inspur Group")]
    [InlineData("Inspur Group, L.L.C.", "Inspur Group")]
    [InlineData("Langchao", "Inspur Group")]
    [InlineData("Lang Chao Group Co., Ltd.", "Inspur Group")]
    [InlineData("Lang-Ch'ao Group", "Inspur Group")]               // Wade-Giles
    [InlineData("浪潮集团有限公司", "Inspur Group")]
    [InlineData("MOORE THREADS", "Moore Threads")]
    [InlineData("Moore Threads Technology Co., Ltd.", "Moore Threads")]
    [InlineData("MooreThreads Inc.", "Moore Threads")]
    [InlineData("Mo-erh Hsien-ch'eng", "Moore Threads")]           // Wade-Giles of 摩尔线程
    [InlineData("摩尔线程智能科技(北京)有限责任公司", "Moore Threads")]
    [InlineData("Shanghai Biren Technology Co Ltd", "Shanghai Biren")]
    [InlineData("Birren Technology", "Shanghai Biren")]            // a typo
    [InlineData("Biren Intelligent Technology", "Shanghai Biren")]
    [InlineData("Loongson Technology Corp.", "Loongson")]
    [InlineData("Lóongson", "Loongson")]                            // diacritics
    public void Name_variants_match_the_listed_party(string name, string entry)
    {
        var matches = Reference.Matcher.Match(name);

        var match = matches.ShouldHaveSingleItem();
        match.Entry.ShouldBe(Reference.Entry(entry));
        match.Score.ShouldBeGreaterThanOrEqualTo(Reference.Matcher.Threshold);
    }

    [Theory]
    [InlineData("Inspire Group Co., Ltd.")]
    [InlineData("Spur Group")]
    [InlineData("Inspiration Technology Ltd.")]
    [InlineData("Moore Industries Inc.")]
    [InlineData("Threads & Co.")]
    [InlineData("Birch Technology Ltd.")]
    [InlineData("Biren Foods Ltd.")]
    [InlineData("Loon Technologies")]
    [InlineData("Lenovo Group Limited")]
    [InlineData("NVIDIA Corporation")]
    [InlineData("Shanghai Technology Co., Ltd.")]
    [InlineData("Acme Cloud Ltd.")]
    public void Near_misses_do_not_match(string name)
    {
        Reference.Matcher.Match(name).ShouldBeEmpty($"best: {Reference.Matcher.Score(name)[0]}");
    }

    [Fact]
    public void A_match_reports_its_score_and_the_alias_that_matched()
    {
        var match = Reference.Matcher.Match("Langchao Group Co., Ltd.").ShouldHaveSingleItem();

        match.MatchedName.ShouldBe("Langchao Group");
        match.Score.ShouldBe(1.0);
        match.Entry.List.ShouldBe("Entity List");
    }

    [Fact]
    public void Legal_suffixes_case_punctuation_and_word_order_do_not_change_the_canonical_name()
    {
        PartyNameNormalizer.Canonical("INSPUR GROUP CO., LTD.").ShouldBe("inspur");
        PartyNameNormalizer.Canonical("Group Inspur").ShouldBe("inspur");
        PartyNameNormalizer.Canonical("Inspur (Group) Company Limited").ShouldBe("inspur");
        PartyNameNormalizer.Canonical("Threads, Moore").ShouldBe(PartyNameNormalizer.Canonical("Moore Threads Inc."));
    }

    [Fact]
    public void A_higher_threshold_turns_a_weak_match_into_no_match()
    {
        var strict = new RestrictedPartyMatcher(Reference.Entries, 0.99);

        Reference.Matcher.Match("Birren Technology").ShouldNotBeEmpty();
        strict.Match("Birren Technology").ShouldBeEmpty();
    }
}
