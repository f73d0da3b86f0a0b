using Brokering.Compliance.RestrictedParties;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

/// <summary>
/// Screening reads names as the lists' own tools do, so a listed name spelled to look the same (look-alike letters of
/// other scripts, fullwidth forms, invisible and format characters, combining accents, digits for letters) or written
/// in Cyrillic or Greek still matches, and ordinary names, in any script, stay clear.
/// </summary>
[Trait(TestCategory.Trait, TestCategory.Unit)]
public sealed class ScreeningEvasionTests
{
    public static TheoryData<string, string, string> Evasions => EvasionVariants.All();

    [Theory]
    [MemberData(nameof(Evasions))]
    public void Every_seeded_name_in_every_kind_of_evasion_still_matches_its_entry(string variant, string kind, string entry)
    {
        var best = Reference.Matcher.Score(variant)[0];

        best.Entry.Name.ShouldBe(entry, kind);
        best.Score.ShouldBeGreaterThanOrEqualTo(Reference.Matcher.Threshold, $"{kind} → '{variant}' read as {string.Join(" | ", LatinReadings.Of(variant))}");
    }

    // Letter-by-letter Cyrillic and Greek spellings of listed names: none of these letters is a look-alike of the
    // Latin letter it stands for (И, н, п, Λ, Σ…), so only romanisation reads them.
    [Theory]
    [InlineData("Инспур", "Inspur Group")]
    [InlineData("ИНСПУР ГРУПП", "Inspur Group")]
    [InlineData("ООО «Инспур Груп»", "Inspur Group")]
    [InlineData("Лангчао", "Inspur Group")]
    [InlineData("Лоонгсон Текнолоджи", "Loongson")]
    [InlineData("Бирен", "Shanghai Biren")]
    [InlineData("Шанхай Бирен", "Shanghai Biren")]
    [InlineData("Мооре Тхреадс", "Moore Threads")]
    [InlineData("Ινσπουρ", "Inspur Group")]
    [InlineData("ΙΝΣΠΟΥΡ", "Inspur Group")]
    [InlineData("Λοονγκσον", "Loongson")]
    [InlineData("Μπιρεν", "Shanghai Biren")]
    [InlineData("Μοορε Θρεαδς", "Moore Threads")]
    [InlineData("Іnspur Гроуп", "Inspur Group")]     // a look-alike word beside a Cyrillic one
    public void Cyrillic_and_Greek_spellings_of_a_listed_name_are_read_in_Latin_and_match(string name, string entry)
    {
        var best = Reference.Matcher.Score(name)[0];

        best.Entry.ShouldBe(Reference.Entry(entry));
        best.Score.ShouldBeGreaterThanOrEqualTo(Reference.Matcher.Threshold, string.Join(" | ", LatinReadings.Of(name)));
    }

    // Ordinary companies, in Latin and in other scripts, some near the listed names and some spelled with the same
    // tricks: reading names in Latin must not turn them into listed parties.
    [Theory]
    [InlineData("Inspire Group Co., Ltd.")]
    [InlineData("Insp\u0456re Gr\u043Eup")]                 // a near miss with look-alike letters stays a near miss
    [InlineData("\uFF29\uFF4E\uFF53\uFF50\uFF49\uFF52\uFF45")] // fullwidth "Inspire"
    [InlineData("Spur Group")]
    [InlineData("Moore Industries Inc.")]
    [InlineData("M\u043E\u043Ere Ind\u0443stries")]          // Cyrillic о, о, у
    [InlineData("Birch Technology Ltd.")]
    [InlineData("\u0412irch Technology")]                    // Cyrillic В
    [InlineData("Loon Technologies")]
    [InlineData("Lenovo Group Limited")]
    [InlineData("NVIDIA Corporation")]
    [InlineData("3M Company")]
    [InlineData("360 Security Technology Inc.")]
    [InlineData("7-Eleven Inc.")]
    [InlineData("Web3 Labs")]
    [InlineData("Сбербанк")]                                 // Sberbank
    [InlineData("Яндекс Облако")]                            // Yandex Cloud
    [InlineData("ПАО «Ростелеком»")]                          // Rostelecom
    [InlineData("ООО Лунный Свет")]                          // Moonlight LLC
    [InlineData("Ολυμπιακή Αεροπορία")]                     // Olympic Air
    [InlineData("Καλημέρα Trading")]
    [InlineData("Αθήνα Software")]
    [InlineData("Արմենտել")]                                 // Armentel, in Armenian
    [InlineData("華為技術有限公司")]                           // Huawei: listed elsewhere, not on this demo list
    [InlineData("Acme Cloud Ltd.")]
    public void Ordinary_names_in_any_script_stay_clear(string name)
    {
        Reference.Matcher.Match(name).ShouldBeEmpty($"best: {Reference.Matcher.Score(name)[0]}; read as {string.Join(" | ", LatinReadings.Of(name))}");
    }

    [Fact]
    public void Compatibility_forms_are_unified_and_invisible_characters_and_accents_dropped()
    {
        LatinReadings.Canonical("\uFF29\uFF2E\uFF33\uFF30\uFF35\uFF32").ShouldBe("inspur");
        LatinReadings.Canonical("\uD835\uDC08\uD835\uDC27\uD835\uDC2C").ShouldBe("ins");         // mathematical bold
        LatinReadings.Canonical("In\u200Bs\u200Cp\u200Du\u2060r\uFEFF").ShouldBe("inspur");
        LatinReadings.Canonical("In\u00ADsp\u200Eu\u202Er\u180E").ShouldBe("inspur");
        LatinReadings.Canonical("I\u0301n\u0308s\u0303p\u0327\u0336u\u20DDr").ShouldBe("inspur");
        LatinReadings.Canonical("Ins\u3164pur").ShouldBe("inspur");                               // Hangul filler
    }

    [Fact]
    public void A_lone_surrogate_is_read_as_a_replacement_character_not_an_error()
    {
        LatinReadings.Canonical("In\uD800spur").ShouldBe("in\uFFFDspur");
        Reference.Matcher.Score("Insp\uDC00ur Group")[0].Entry.ShouldBe(Reference.Entry("Inspur Group"));
    }

    [Fact]
    public void Spaces_controls_and_punctuation_separate_words_and_never_join_them()
    {
        LatinReadings.Canonical("Inspur\u00A0Group\tCo.\u2028Ltd").ShouldBe("inspur group co. ltd");
        PartyNameNormalizer.Canonical("Inspur\u3000—\u3000Group").ShouldBe(PartyNameNormalizer.Canonical("Inspur Group"));
    }

    [Fact]
    public void Look_alike_letters_of_other_scripts_read_as_the_Latin_letters_they_imitate()
    {
        LatinReadings.Canonical("In\u0455pur").ShouldBe("inspur");                 // Cyrillic dze
        LatinReadings.Canonical("\u0399NSPUR").ShouldBe("inspur");                 // Greek capital iota
        LatinReadings.Canonical("Bir\u0435n \u0422\u0435chnology").ShouldBe("biren technology");
        LatinReadings.Canonical("L\u0585\u0585ngs\u0585n").ShouldBe("loongson");   // Armenian oh
        LatinReadings.Canonical("M\u13A4\u13A4re").ShouldNotBe("m\u13A4\u13A4re"); // Cherokee letters are read too
        LatinReadings.Canonical("\u0131nspur").ShouldBe("inspur");                 // Latin dotless i
    }

    [Fact]
    public void A_word_written_wholly_in_Cyrillic_or_Greek_is_romanised_and_a_word_that_mixes_scripts_is_read_by_look()
    {
        LatinReadings.Canonical("Инспур").ShouldBe("inspur");
        LatinReadings.Canonical("Ινσπουρ").ShouldBe("inspur");
        // The same Cyrillic р is "r" in a Cyrillic word and "p" among Latin letters.
        LatinReadings.Canonical("Спур Ins\u0440ur").ShouldBe("spur inspur");
        // A word made only of look-alikes could be either, so both readings are kept.
        LatinReadings.Of("\u0405\u0440\u0430\u0441\u0435").ShouldContain("space");
        LatinReadings.Of("\u0405\u0440\u0430\u0441\u0435").ShouldContain("dzrase");
    }

    [Fact]
    public void Digits_inside_words_are_also_read_as_the_letters_they_stand_for_but_numbers_stay_numbers()
    {
        LatinReadings.Of("L00ngs0n 1nspur").ShouldContain("loongson inspur");
        LatinReadings.Of("360 Security").ShouldBe(["360 security"]);
    }

    [Fact]
    public void A_word_mixing_scripts_is_recognised_and_genuine_single_script_names_are_not()
    {
        LatinReadings.MixesScripts("In\u0455pur Group").ShouldBeTrue();
        LatinReadings.MixesScripts("L\u0585\u0585ngson").ShouldBeTrue();
        LatinReadings.MixesScripts("Inspur Group").ShouldBeFalse();
        LatinReadings.MixesScripts("Яндекс Cloud").ShouldBeFalse();
        LatinReadings.MixesScripts("浪潮集团有限公司").ShouldBeFalse();
    }

    [Fact]
    public void A_listed_name_in_Cyrillic_matches_its_Latin_and_Cyrillic_spellings_alike()
    {
        var entry = new RestrictedPartyEntry
        {
            Id = Guid.NewGuid(), Name = "ООО «Ромашка»", Aliases = [], Addresses = [], Country = "RU", List = "Entity List",
            ListedOn = new DateOnly(2026, 1, 1), AddedAt = Reference.Now, AddedInListVersion = 1,
        };
        var matcher = new RestrictedPartyMatcher([entry], 0.85);

        matcher.Match("Romashka LLC").ShouldHaveSingleItem();
        matcher.Match("ромашка").ShouldHaveSingleItem();
        matcher.Match("R\u043Emashka").ShouldHaveSingleItem();
        matcher.Match("Romanov Trading").ShouldBeEmpty();
    }
}
