using System.Globalization;
using System.Text;

namespace Brokering.Compliance.RestrictedParties;

/// <summary>
/// The ways a person can read a party name in Latin letters, as the screening lists' own tools read names before they
/// compare them: compatibility forms unified (NFKC: fullwidth, mathematical and circled letters, ligatures; a table for
/// the letter-like symbols NFKC leaves alone, such as negative squared letters and regional indicators), invisible
/// characters and combining marks dropped, letters of other scripts that look like Latin ones read as those
/// (after Unicode TR39's confusable skeletons), and Cyrillic and Greek words romanised.
/// </summary>
/// <remarks>
/// One reading is not enough. "Inѕpur" (a Cyrillic dze among Latin letters) must read "inspur", which only the look-alike
/// reading gives (romanised, dze is "dz"); "Инспур", written wholly in Cyrillic, must read "inspur" too, which only
/// romanisation gives (read by look, its с and р are "c" and "p"); and a word made only of look-alike letters
/// ("Ѕрасе") could be either. So a name has up to four readings and the matcher scores the best of them:
/// <list type="number">
/// <item>word by word: a word in one script of its own (Cyrillic, Greek) is romanised, a word that mixes scripts — which
/// no genuine name does — is read by look. This is the name's canonical reading.</item>
/// <item>every look-alike read by look, whatever the word;</item>
/// <item>every Cyrillic and Greek letter romanised, whatever the word;</item>
/// <item>the look-alike reading with digits inside words read as the letters they stand in for ("L00ngson").</item>
/// </list>
/// Every reading is lower case and keeps spaces and punctuation for the word split that follows.
/// </remarks>
internal static class LatinReadings
{
    private const string TableResource = "Brokering.Compliance.RestrictedParties.latin-look-alikes.tsv";
    private const string SymbolTableResource = "Brokering.Compliance.RestrictedParties.letter-like-symbols.tsv";

    /// <summary>Code point → Latin reading, from <c>latin-look-alikes.tsv</c> (derived from Unicode confusables.txt).</summary>
    private static readonly Dictionary<int, string> LookAlikes = LoadTable(TableResource);

    /// <summary>
    /// Code point → Latin reading of the symbols and letters that show a Latin letter or digit but that NFKC leaves alone
    /// (negative squared and circled letters, regional indicators, small capital F…) or wraps in parentheses, from
    /// <c>letter-like-symbols.tsv</c> (derived from Unicode character names).
    /// </summary>
    private static readonly Dictionary<int, string> LetterLikeSymbols = LoadTable(SymbolTableResource);

    private static readonly System.Buffers.SearchValues<char> Digits = System.Buffers.SearchValues.Create("0123456789");

    // Characters that print as an empty space though Unicode does not call them spaces: the Hangul fillers (letters, Lo;
    // U+3164 and U+FFA0 reach here as U+1160 after NFKC), the braille blank and the ideographic half fill space (symbols,
    // So). A reader takes each for the gap between two words, so they are read as one.
    private static readonly HashSet<int> BlankLetters = [0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x303F];

    // Unicode's default-ignorable code points (DerivedCoreProperties.txt, Default_Ignorable_Code_Point, Unicode 14.0):
    // what a renderer shows nothing for when it has no glyph, unassigned ones included, so a name may carry any of them
    // unseen. Most are format characters or marks, dropped by category; the ranges catch the rest (U+2065, U+FFF0–U+FFF8,
    // the unassigned tags). The Hangul fillers among them are blanks above and never reach this test.
    private static readonly (int First, int Last)[] DefaultIgnorable =
    [
        (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
        (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
    ];

    // Digits read as the letters they replace when they stand inside a word ("M00re", "1nspur").
    private static readonly Dictionary<char, char> DigitsAsLetters = new()
    {
        ['0'] = 'o', ['1'] = 'i', ['3'] = 'e', ['4'] = 'a', ['5'] = 's', ['6'] = 'b', ['7'] = 't', ['8'] = 'b', ['9'] = 'g',
    };

    // Romanisation after BGN/PCGN for Russian with the Ukrainian, Belarusian, Serbian, Macedonian and Kazakh letters
    // (lower case; й, ё, ї, ў, ѓ and ќ lose their marks before they get here and read as и, е, і, у, г and к).
    private static readonly Dictionary<char, string> Cyrillic = new()
    {
        ['а'] = "a", ['б'] = "b", ['в'] = "v", ['г'] = "g", ['д'] = "d", ['е'] = "e", ['ж'] = "zh", ['з'] = "z", ['и'] = "i",
        ['к'] = "k", ['л'] = "l", ['м'] = "m", ['н'] = "n", ['о'] = "o", ['п'] = "p", ['р'] = "r", ['с'] = "s", ['т'] = "t",
        ['у'] = "u", ['ф'] = "f", ['х'] = "kh", ['ц'] = "ts", ['ч'] = "ch", ['ш'] = "sh", ['щ'] = "shch", ['ъ'] = "", ['ы'] = "y",
        ['ь'] = "", ['э'] = "e", ['ю'] = "yu", ['я'] = "ya", ['є'] = "ye", ['і'] = "i", ['ґ'] = "g", ['ђ'] = "dj", ['ј'] = "j",
        ['љ'] = "lj", ['њ'] = "nj", ['ћ'] = "c", ['џ'] = "dz", ['ѕ'] = "dz", ['ә'] = "a", ['ғ'] = "gh", ['қ'] = "q", ['ң'] = "ng",
        ['ө'] = "o", ['ұ'] = "u", ['ү'] = "u", ['һ'] = "h", ['ӏ'] = "",
    };

    // Romanisation after ELOT 743 (lower case, tonos already gone), with the digraphs that spell one Latin sound.
    private static readonly Dictionary<char, string> Greek = new()
    {
        ['α'] = "a", ['β'] = "v", ['γ'] = "g", ['δ'] = "d", ['ε'] = "e", ['ζ'] = "z", ['η'] = "i", ['θ'] = "th", ['ι'] = "i",
        ['κ'] = "k", ['λ'] = "l", ['μ'] = "m", ['ν'] = "n", ['ξ'] = "x", ['ο'] = "o", ['π'] = "p", ['ρ'] = "r", ['σ'] = "s",
        ['ς'] = "s", ['τ'] = "t", ['υ'] = "y", ['φ'] = "f", ['χ'] = "ch", ['ψ'] = "ps", ['ω'] = "o",
    };

    /// <summary>The distinct Latin readings of <paramref name="name"/>, its canonical (word by word) reading first.</summary>
    public static IReadOnlyList<string> Of(string name)
    {
        var runes = Clean(name);
        var readings = new List<string>(4);
        void Add(string reading)
        {
            if (!readings.Contains(reading, StringComparer.Ordinal))
            {
                readings.Add(reading);
            }
        }

        Add(WordByWord(runes));
        var byLook = Read(runes, romaniseFirst: false);
        Add(byLook);
        Add(Read(runes, romaniseFirst: true));
        Add(DigitsInWordsAsLetters(byLook));
        return readings;
    }

    /// <summary>The canonical reading: word by word, romanising single-script Cyrillic and Greek words.</summary>
    public static string Canonical(string name) => WordByWord(Clean(name));

    /// <summary>
    /// Whether a word of the name mixes letters of different scripts (Latin with Cyrillic, say): genuine names do not,
    /// so this is a sign of an attempt to slip past screening, worth an officer's eye.
    /// </summary>
    public static bool MixesScripts(string name) =>
        Words(Clean(name)).Any(word => word.Where(rune => Rune.IsLetter(rune)).Select(ScriptOf).Distinct().Count() > 1);

    // NFKC, then decomposed so that accents become marks. Then every character a reader cannot see is settled one of two
    // ways: what takes up no room (format characters, default-ignorable code points, combining marks) is dropped, so
    // "Insp\u200Bur" reads "inspur"; what prints as a gap (spaces of every kind, line and paragraph separators, controls,
    // the blank letters) separates words. Neither choice lets a listed name through: a name whose words were glued by a
    // dropped character is still compared run together (PartyNameNormalizer). Recomposed after, so Hangul syllables stay whole.
    private static List<Rune> Clean(string name)
    {
        // A lone surrogate (possible in a JSON escape) would make Normalize throw; it reads as the replacement character.
        // The letter-like symbols go first: most are symbols, not letters, so each would otherwise be a word of its own
        // (or be dropped), and NFKC would put the parenthesized ones between parentheses, which split words too.
        var wellFormed = string.Concat(name.EnumerateRunes()
            .Select(rune => LetterLikeSymbols.TryGetValue(rune.Value, out var latin) ? latin : rune.ToString()));
        var decomposed = wellFormed.Normalize(NormalizationForm.FormKC).Normalize(NormalizationForm.FormD);
        var kept = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
        {
            if (ReadsAsBlank(rune))
            {
                kept.Append(' ');
            }
            else if (!IsUnseen(rune))
            {
                kept.Append(rune.ToString());
            }
        }

        return [.. kept.ToString().Normalize(NormalizationForm.FormC).EnumerateRunes()];
    }

    /// <summary>Whether <paramref name="rune"/> prints as an empty gap: read as a word break.</summary>
    internal static bool ReadsAsBlank(Rune rune) =>
        BlankLetters.Contains(rune.Value)
        || Rune.GetUnicodeCategory(rune) is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Control;

    /// <summary>Whether <paramref name="rune"/> takes up no room of its own: dropped (unless it <see cref="ReadsAsBlank"/>).</summary>
    internal static bool IsUnseen(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.Format or UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
            or UnicodeCategory.SpacingCombiningMark
        || IsDefaultIgnorable(rune.Value);

    private static bool IsDefaultIgnorable(int value)
    {
        foreach (var (first, last) in DefaultIgnorable)
        {
            if (value < first)
            {
                return false;
            }

            if (value <= last)
            {
                return true;
            }
        }

        return false;
    }

    private static string WordByWord(List<Rune> runes)
    {
        var builder = new StringBuilder(runes.Count);
        foreach (var (word, separator) in Split(runes))
        {
            var scripts = word.Where(Rune.IsLetter).Select(ScriptOf).Distinct().ToList();
            var romanise = scripts.Count == 1 && scripts[0] is Script.Cyrillic or Script.Greek;
            builder.Append(Read(word, romaniseFirst: romanise)).Append(separator);
        }

        return builder.ToString();
    }

    // Reads each letter: by look or romanised first, as asked, and the other way where the first has no reading.
    private static string Read(List<Rune> runes, bool romaniseFirst)
    {
        var builder = new StringBuilder(runes.Count);
        for (var i = 0; i < runes.Count; i++)
        {
            var rune = runes[i];
            if (romaniseFirst && Romanise(runes, ref i) is { } romanised)
            {
                builder.Append(romanised);
            }
            else if (LookAlikes.TryGetValue(rune.Value, out var latin))
            {
                builder.Append(latin);
            }
            else if (Romanise(runes, ref i) is { } fallback)
            {
                builder.Append(fallback);
            }
            else
            {
                builder.Append(Rune.ToLowerInvariant(rune).ToString());
            }
        }

        return builder.ToString();
    }

    // The romanisation of the Cyrillic or Greek letter at i (two letters where a Greek digraph spells one sound, and
    // then i moves past both), or null for a letter of another script.
    private static string? Romanise(List<Rune> runes, ref int i)
    {
        if (!runes[i].IsBmp)
        {
            return null;
        }

        var c = char.ToLowerInvariant((char)runes[i].Value);
        if (Cyrillic.TryGetValue(c, out var cyrillic))
        {
            return cyrillic;
        }

        if (!Greek.TryGetValue(c, out var greek))
        {
            return null;
        }

        var next = i + 1 < runes.Count && runes[i + 1].IsBmp ? char.ToLowerInvariant((char)runes[i + 1].Value) : '\0';
        var initial = i == 0 || !Rune.IsLetter(runes[i - 1]);
        var digraph = (c, next) switch
        {
            ('ο', 'υ') => "u",
            ('γ', 'γ') => "ng",
            ('γ', 'κ') => initial ? "g" : "ng",
            ('μ', 'π') => initial ? "b" : "mb",
            ('ν', 'τ') => initial ? "d" : "nd",
            _ => null,
        };
        if (digraph is null)
        {
            return greek;
        }

        i++;
        return digraph;
    }

    private static string DigitsInWordsAsLetters(string reading)
    {
        var builder = new StringBuilder(reading);
        var start = 0;
        for (var i = 0; i <= reading.Length; i++)
        {
            if (i < reading.Length && char.IsLetterOrDigit(reading[i]))
            {
                continue;
            }

            // A word of digits alone is a number ("360"); only digits among letters stand in for letters.
            if (reading.AsSpan(start, i - start).ContainsAnyExcept(Digits))
            {
                for (var j = start; j < i; j++)
                {
                    if (DigitsAsLetters.TryGetValue(reading[j], out var letter))
                    {
                        builder[j] = letter;
                    }
                }
            }

            start = i + 1;
        }

        return builder.ToString();
    }

    private static IEnumerable<List<Rune>> Words(List<Rune> runes) => Split(runes).Select(part => part.Word).Where(word => word.Count > 0);

    // Words (letters and digits) with the separator that follows each.
    private static IEnumerable<(List<Rune> Word, string Separator)> Split(List<Rune> runes)
    {
        var word = new List<Rune>();
        foreach (var rune in runes)
        {
            if (Rune.IsLetterOrDigit(rune))
            {
                word.Add(rune);
                continue;
            }

            yield return (word, rune.ToString());
            word = [];
        }

        yield return (word, string.Empty);
    }

    private enum Script
    {
        Latin,
        Cyrillic,
        Greek,
        Armenian,
        Other,
    }

    private static Script ScriptOf(Rune rune) => rune.Value switch
    {
        < 0x0250 or (>= 0x1E00 and < 0x1F00) or (>= 0x2C60 and < 0x2C80) or (>= 0xA720 and < 0xA800) or (>= 0xAB30 and < 0xAB70) => Script.Latin,
        (>= 0x0250 and < 0x02B0) or (>= 0x1D00 and < 0x1D80) => Script.Latin, // IPA and phonetic extensions: small capitals
        (>= 0x0370 and < 0x0400) or (>= 0x1F00 and < 0x2000) => Script.Greek,
        (>= 0x0400 and < 0x0530) or (>= 0x1C80 and < 0x1C90) or (>= 0xA640 and < 0xA6A0) => Script.Cyrillic,
        >= 0x0530 and < 0x0590 => Script.Armenian,
        _ => Script.Other,
    };

    private static Dictionary<int, string> LoadTable(string resource)
    {
        using var stream = typeof(LatinReadings).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The reading table {resource} is not embedded in the assembly.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var table = new Dictionary<int, string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var fields = line.Split('\t');
            table[int.Parse(fields[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture)] = fields[1];
        }

        return table;
    }
}
