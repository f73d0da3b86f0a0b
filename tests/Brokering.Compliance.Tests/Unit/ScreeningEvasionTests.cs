using System.Globalization;
using System.Text;
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

    [Fact]
    public void The_evasion_variants_rewrite_a_name_of_every_seeded_entry()
    {
        EvasionVariants.SeededNames.Select(seeded => seeded.Entry).Distinct().Order(StringComparer.Ordinal)
            .ShouldBe(Reference.Entries.Select(entry => entry.Name).Order(StringComparer.Ordinal));
    }

    // Unicode's default-ignorable code points (DerivedCoreProperties.txt, Default_Ignorable_Code_Point), copied here rather
    // than read from the service, so that a test of the service's reading does not share its table.
    private static readonly (int First, int Last)[] DefaultIgnorable =
    [
        (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
        (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
    ];

    // Every character a reader cannot see: default-ignorable code points, format characters, spaces, line and paragraph
    // separators, controls, and the symbols that print as a blank (braille blank, ideographic half fill space).
    private static IEnumerable<string> Unseen() =>
        Enumerable.Range(0, 0x110000)
            .Where(value => value is < 0xD800 or > 0xDFFF)
            .Select(value => new Rune(value))
            .Where(rune => Array.Exists(DefaultIgnorable, range => rune.Value >= range.First && rune.Value <= range.Last)
                || rune.Value is 0x2800 or 0x303F
                || Rune.GetUnicodeCategory(rune) is UnicodeCategory.Format or UnicodeCategory.SpaceSeparator
                    or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Control)
            .Select(rune => rune.ToString());

    // Between the words of a listed name (where it would read as a space or as nothing, gluing them) and inside a word:
    // whichever way the service reads a character, no such character lets the name through.
    [Fact]
    public void No_character_a_reader_cannot_see_lets_a_listed_name_through_between_its_words_or_inside_one()
    {
        // Four spellings, so the test reads each of its four thousand characters quickly: the generators above put a sample
        // of them into every seeded name.
        string[] names = ["Inspur{0}Group", "Inspur{0}Group{0}Co.,{0}Ltd.", "Moore{0}Threads", "Insp{0}ur Group"];
        var unseen = Unseen().ToList();
        var passed = new List<string>();
        foreach (var character in unseen)
        {
            foreach (var name in names.Select(format => string.Format(CultureInfo.InvariantCulture, format, character)))
            {
                if (Reference.Matcher.Match(name).Count == 0)
                {
                    passed.Add($"U+{char.ConvertToUtf32(character, 0):X4} in {name.Replace(character, "·", StringComparison.Ordinal)}");
                }
            }
        }

        unseen.Count.ShouldBeGreaterThan(4000);
        passed.ShouldBeEmpty($"{passed.Count} spellings passed screening, among them {string.Join("; ", passed.Take(20))}");
    }

    // Run together, a name is compared with the listed names' distinctive words: a listed name inside a longer word, a
    // near miss run together or one whose end only looks like a legal form is judged by how similar it is, and stays clear.
    [Theory]
    [InlineData("Inspurational Holdings")]
    [InlineData("Birenbaum Technology GmbH")]
    [InlineData("MooreThreadsville")]
    [InlineData("InspireGroupCo.,Ltd.")]
    [InlineData("INSPIREGROUP")]
    [InlineData("BirchTechnologyLtd.")]
    [InlineData("BirenLab")]
    [InlineData("BirenZinc")]
    [InlineData("Tabasco Group")]
    [InlineData("LangChowGroup")]
    [InlineData("AcmeCloudPte.Ltd.")]
    public void A_listed_name_inside_a_longer_word_or_a_near_miss_run_together_stays_clear_of_the_review_band(string name)
    {
        Reference.ReviewingMatcher.Resemble(name).ShouldBeEmpty($"best: {Reference.ReviewingMatcher.Score(name)[0]}");
    }

    [Theory]
    [InlineData("InspurGroup")]
    [InlineData("inspur-group")]
    [InlineData("Inspur.Group")]
    [InlineData("INSPURGROUPCO.,LTD.")]
    [InlineData("InspurGroupCo")]
    [InlineData("InspurGroupCompanyLimited")]
    [InlineData("LangchaoGroupCo.,Ltd.")]
    [InlineData("ShanghaiBirenIntelligentTechnologyCo.,Ltd.")]
    [InlineData("BirenTech")]
    [InlineData("MOORETHREADSINTELLIGENTTECHNOLOGY(BEIJING)CO.,LTD.")]
    [InlineData("LoongsonTechnologyCorp.")]
    [InlineData("浪潮集团有限公司")]
    public void A_listed_name_with_its_word_breaks_removed_still_matches(string name)
    {
        Reference.Matcher.Match(name).ShouldNotBeEmpty($"best: {Reference.Matcher.Score(name)[0]}; read as {string.Join(" | ", LatinReadings.Of(name))}");
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
        // Default-ignorable code points Unicode has not assigned yet, a tag and a variation selector print nothing either.
        LatinReadings.Canonical("In\u2065sp\uFFF0u\U000E0002r\U000E0041\U000E0100").ShouldBe("inspur");
        LatinReadings.Canonical("I\u0301n\u0308s\u0303p\u0327\u0336u\u20DDr").ShouldBe("inspur");
    }

    // Every form of a Latin letter or digit in the blocks that hold them as symbols or compatibility characters, computed
    // from the blocks' layout rather than read from the service's table: each must read as the letter or digit it shows.
    private static IEnumerable<(int CodePoint, string Reading)> LetterLikeForms()
    {
        static IEnumerable<(int, string)> Alphabet(int first) =>
            Enumerable.Range(0, 26).Select(i => (first + i, ((char)('a' + i)).ToString()));
        static IEnumerable<(int, string)> Digits(int first, int from = 0, int count = 10) =>
            Enumerable.Range(0, count).Select(i => (first + i, (from + i).ToString(CultureInfo.InvariantCulture)));

        int[] alphabets =
        [
            0x1F170, 0x1F150, 0x1F1E6, 0x1F130, 0x1F110, 0x24B6, 0x24D0, 0x249C, 0xFF21, 0xFF41,
        ];
        var forms = alphabets.SelectMany(first => Alphabet(first));
        // Mathematical Alphanumeric Symbols: thirteen alphabets of capitals then small letters (a few places left empty,
        // their letters being in Letterlike Symbols), then five sets of digits.
        forms = forms.Concat(Enumerable.Range(0x1D400, 0x1D6A4 - 0x1D400)
            .Where(value => Rune.GetUnicodeCategory(new Rune(value)) != UnicodeCategory.OtherNotAssigned)
            .Select(value => (value, ((char)('a' + (value - 0x1D400) % 52 % 26)).ToString())));
        forms = forms.Concat(Enumerable.Range(0x1D7CE, 50).Select(value => (value, ((value - 0x1D7CE) % 10).ToString(CultureInfo.InvariantCulture))));
        forms = forms.Concat(Digits(0x2460, 1, 9)).Concat(Digits(0x2474, 1, 9)).Concat(Digits(0x24F5, 1, 9)).Concat(Digits(0x2776, 1, 9))
            .Concat(Digits(0x2780, 1, 9)).Concat(Digits(0x278A, 1, 9)).Concat(Digits(0xFF10));
        // Letterlike Symbols: script, double-struck and black-letter capitals and small letters.
        forms = forms.Concat(new (int, string)[]
        {
            (0x2102, "c"), (0x210A, "g"), (0x210B, "h"), (0x210C, "h"), (0x210D, "h"), (0x210E, "h"), (0x2110, "i"), (0x2111, "i"),
            (0x2112, "l"), (0x2113, "l"), (0x2115, "n"), (0x2118, "p"), (0x2119, "p"), (0x211A, "q"), (0x211B, "r"), (0x211C, "r"),
            (0x211D, "r"), (0x2124, "z"), (0x2128, "z"), (0x212C, "b"), (0x212D, "c"), (0x212F, "e"), (0x2130, "e"), (0x2131, "f"),
            (0x2133, "m"), (0x2134, "o"), (0x2139, "i"), (0x2145, "d"), (0x2146, "d"), (0x2147, "e"), (0x2148, "i"), (0x2149, "j"),
        });
        return forms;
    }

    [Fact]
    public void Every_letter_like_symbol_of_a_Latin_letter_or_digit_reads_as_that_letter_or_digit()
    {
        var forms = LetterLikeForms().ToList();
        var misread = forms
            .Select(form => (form.CodePoint, form.Reading, Read: LatinReadings.Canonical(char.ConvertFromUtf32(form.CodePoint))))
            .Where(form => form.Read != form.Reading)
            .Select(form => $"U+{form.CodePoint:X4} {char.ConvertFromUtf32(form.CodePoint)} read '{form.Read}', not '{form.Reading}'")
            .ToList();

        forms.Count.ShouldBeGreaterThan(1000);
        misread.ShouldBeEmpty($"{misread.Count} misread, among them {string.Join("; ", misread.Take(20))}");
    }

    [Theory]
    [InlineData("\U0001F178\U0001F17D\U0001F182\U0001F17F\U0001F184\U0001F181 \U0001F176\U0001F181\U0001F17E\U0001F184\U0001F17F \U0001F172\U0001F17E., \U0001F17B\U0001F183\U0001F173.")]
    [InlineData("\U0001F158\U0001F15D\U0001F162\U0001F15F\U0001F164\U0001F161")]           // negative circled
    [InlineData("\U0001F1EE\U0001F1F3\U0001F1F8\U0001F1F5\U0001F1FA\U0001F1F7")]           // regional indicators
    [InlineData("\u24A4\u24A9\u24AE\u24AB\u24B0\u24AD \u24A2\u24AD\u24AA\u24B0\u24AB")]   // parenthesized
    [InlineData("\u1D35\u0274\uA731\u1D18\u1D1C\u0280")]                                  // small capitals
    [InlineData("\u1DA6\u207F\u02E2\u1D56\u1D58\u02B3")]                                  // superscripts
    public void A_listed_name_in_letter_like_symbols_is_read_as_its_letters_and_matches(string name)
    {
        var best = Reference.Matcher.Score(name)[0];

        best.Entry.ShouldBe(Reference.Entry("Inspur Group"));
        best.Score.ShouldBeGreaterThanOrEqualTo(Reference.Matcher.Threshold, string.Join(" | ", LatinReadings.Of(name)));
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
        // What prints as a gap is a gap, though Unicode calls the Hangul fillers letters and the braille blank a symbol.
        LatinReadings.Canonical("Inspur\u3164Group\u115FCo\uFFA0Ltd\u2800Holdings\u303FInc").ShouldBe("inspur group co ltd holdings inc");
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
