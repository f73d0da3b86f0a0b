using Brokering.Compliance.RestrictedParties;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

[Trait(TestCategory.Trait, TestCategory.Unit)]
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

    // Evasion by letters that read the same: each variant must score as the plain name does.
    [Theory]
    [InlineData("In\u0455pur Group", "Inspur Group")]                   // Cyrillic dze for s
    [InlineData("\u0399nspur Group", "Inspur Group")]                   // Greek capital iota for I
    [InlineData("\u0406N\u0405\u0420UR", "Inspur Group")]         // INSPUR with Cyrillic I, S and P
    [InlineData("\uFF29\uFF4E\uFF53\uFF50\uFF55\uFF52 Group", "Inspur Group")] // fullwidth
    [InlineData("Ins\u200Bpur Gr\u200Doup", "Inspur Group")]          // zero-width space and joiner
    [InlineData("In\u00ADspur\u200E Group", "Inspur Group")]          // soft hyphen, left-to-right mark
    [InlineData("M\u043E\u043Ere Thr\u0435ads", "Moore Threads")]     // Cyrillic o, o, e
    [InlineData("\u039C\u039F\u039F\u0052\u0395 THREADS", "Moore Threads")] // Greek M, O, O, E
    [InlineData("B\u0456ren Technology", "Shanghai Biren")]            // Cyrillic i
    [InlineData("Lo\u03BFngs\u03BFn", "Loongson")]                    // Greek omicron
    [InlineData("\uD835\uDC0B\uD835\uDC28\uD835\uDC28\uD835\uDC27\uD835\uDC20\uD835\uDC2C\uD835\uDC28\uD835\uDC27", "Loongson")] // mathematical bold
    public void Look_alike_letters_invisible_characters_and_compatibility_forms_match_as_the_plain_name(string name, string entry)
    {
        var match = Reference.Matcher.Match(name).ShouldHaveSingleItem($"best: {Reference.Matcher.Score(name)[0]}");
        match.Entry.ShouldBe(Reference.Entry(entry));
        match.Score.ShouldBeGreaterThanOrEqualTo(Reference.Matcher.Threshold);
    }

    [Theory]
    [InlineData("\u0421\u0431\u0435\u0440\u0431\u0430\u043D\u043A")] // a genuinely Cyrillic name (Sberbank) stays clear
    [InlineData("\u039A\u03B1\u03BB\u03B7\u03BC\u03AD\u03C1\u03B1 Trading")] // Greek words are not a listed name
    [InlineData("Insp\u200Bire Gr\u200Boup")]                           // a near miss stays a near miss, invisible characters or not
    public void Other_scripts_and_near_misses_with_invisible_characters_stay_clear(string name)
    {
        Reference.Matcher.Match(name).ShouldBeEmpty($"best: {Reference.Matcher.Score(name)[0]}");
    }

    [Fact]
    public void The_skeleton_reads_look_alikes_as_Latin_and_drops_invisible_characters()
    {
        LatinReadings.Canonical("In\u0455p\u200Bur").ShouldBe("inspur");
        LatinReadings.Canonical("\uFF29\uFF2E\uFF33").ShouldBe("ins");
        PartyNameNormalizer.Canonical("\u0399NSPUR GROUP CO., LTD.").ShouldBe(PartyNameNormalizer.Canonical("Inspur Group"));
    }

    [Theory]
    [InlineData("Inspire Group Co., Ltd.")]
    [InlineData("Spur Group")]
    [InlineData("Inspiration Technology Ltd.")]
    [InlineData("Moore Industries Inc.")]
    [InlineData("Threads & Co.")]
    [InlineData("Birch Technology Ltd.")]
    [InlineData("Biron Foods Ltd.")]
    [InlineData("Loon Technologies")]
    [InlineData("Lenovo Group Limited")]
    [InlineData("NVIDIA Corporation")]
    [InlineData("Shanghai Technology Co., Ltd.")]
    [InlineData("Acme Cloud Ltd.")]
    public void Near_misses_do_not_match(string name)
    {
        Reference.Matcher.Match(name).ShouldBeEmpty($"best: {Reference.Matcher.Score(name)[0]}");
    }

    // Without a review band nothing is a potential match: a name holding a listed name's distinctive words as written is
    // the listed party, however many words it adds, while a near miss (Biron Foods) is cleared as the configuration says.
    [Theory]
    [InlineData("Biren Foods Ltd.", "Shanghai Biren")]
    [InlineData("Inspur Cloud Servers Supply Chain Holding Partners", "Inspur Group")]
    [InlineData("Alpha Beta Inspur Gamma Delta", "Inspur Group")]
    public void Without_a_review_band_a_name_holding_a_listed_name_s_words_matches_whatever_it_adds(string name, string entry)
    {
        Reference.Matcher.Match(name).ShouldHaveSingleItem().Entry.ShouldBe(Reference.Entry(entry));
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

        Reference.Matcher.Match("Loongsen").ShouldNotBeEmpty();
        strict.Match("Loongsen").ShouldBeEmpty();
    }
}
