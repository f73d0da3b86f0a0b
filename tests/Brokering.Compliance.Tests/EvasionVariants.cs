using System.Text;

namespace Brokering.Compliance.Tests;

/// <summary>
/// Spellings of a listed name that read the same to a person but not, byte for byte, to a naive matcher: the ways a
/// buyer would try to slip a listed end user past screening. Written independently of the service's own look-alike
/// table (a short hand-made map of well-known homoglyphs), so a test built on them fails if the service's folding goes.
/// </summary>
internal static class EvasionVariants
{
    /// <summary>The seeded entries' principal Latin names, each with the entry name it must be matched to.</summary>
    public static readonly (string Name, string Entry)[] SeededNames =
    [
        ("Inspur Group Co., Ltd.", "Inspur Group Co., Ltd."),
        ("Loongson Technology Corporation Limited", "Loongson Technology Corporation Limited"),
        ("Shanghai Biren Intelligent Technology Co., Ltd.", "Shanghai Biren Intelligent Technology Co., Ltd."),
        ("Moore Threads Intelligent Technology (Beijing) Co., Ltd.", "Moore Threads Intelligent Technology (Beijing) Co., Ltd."),
        ("Langchao Group", "Inspur Group Co., Ltd."),
        ("Longxin Zhongke", "Loongson Technology Corporation Limited"),
        ("Moore Threads", "Moore Threads Intelligent Technology (Beijing) Co., Ltd."),
        ("Biren Technology", "Shanghai Biren Intelligent Technology Co., Ltd."),
    ];

    /// <summary>The kinds of evasion, each a way to rewrite a name.</summary>
    public static readonly string[] Kinds =
    [
        "one Cyrillic letter", "one Greek letter", "every look-alike letter", "mixed Cyrillic, Greek and Armenian", "fullwidth",
        "zero-width characters inside", "format characters inside", "combining accents", "digits for letters",
        "words run together", "words joined by dots", "capitals run together", "blank characters between words",
        "invisible characters between words", "negative squared letters", "negative circled letters",
        "regional indicator letters", "parenthesized letters", "circled letters", "squared letters", "mathematical letters",
        "double-struck letters", "small capitals", "superscript and subscript letters",
    ];

    // Characters that print as an empty gap without being the space: Unicode spaces, the Hangul fillers, the braille
    // blank, the ideographic half fill space.
    private static readonly string[] Blanks =
        ["\u3164", "\u115F", "\u1160", "\uFFA0", "\u2800", "\u303F", "\u2003", "\u205F", "\u3000", "\u2029", "\u1680", "\u00A0"];

    // Characters that print as nothing: format characters (invisible times, word joiner, Mongolian vowel separator, zero-width
    // space and joiner, BOM, Arabic letter mark, musical formatting), the soft hyphen, the combining grapheme joiner,
    // variation selectors, tags, and default-ignorable code points Unicode has not assigned (U+2065, U+FFF0, U+E0002).
    private static readonly string[] Invisibles =
    [
        "\u2062", "\u2060", "\u180E", "\u200B", "\u200D", "\uFEFF", "\u061C", "\U0001D173", "\u00AD", "\u034F", "\uFE0F",
        "\U000E0100", "\U000E0020", "\u2064", "\u2065", "\uFFF0", "\U000E0002", "\u17B4", "\u180B",
    ];

    /// <summary>Every seeded name in every kind of evasion: (variant, kind, entry name).</summary>
    public static TheoryData<string, string, string> All()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var (name, entry) in SeededNames)
        {
            foreach (var kind in Kinds)
            {
                data.Add(Rewrite(name, kind), $"{kind}: {name}", entry);
            }
        }

        return data;
    }

    private static readonly Dictionary<char, char> Cyrillic = new()
    {
        ['a'] = 'а', ['c'] = 'с', ['e'] = 'е', ['i'] = 'і', ['j'] = 'ј', ['o'] = 'о', ['p'] = 'р', ['s'] = 'ѕ', ['x'] = 'х',
        ['y'] = 'у', ['h'] = 'һ', ['d'] = 'ԁ', ['A'] = 'А', ['B'] = 'В', ['C'] = 'С', ['E'] = 'Е', ['H'] = 'Н', ['I'] = 'І',
        ['K'] = 'К', ['M'] = 'М', ['O'] = 'О', ['P'] = 'Р', ['S'] = 'Ѕ', ['T'] = 'Т', ['X'] = 'Х', ['J'] = 'Ј',
    };

    private static readonly Dictionary<char, char> Greek = new()
    {
        ['A'] = 'Α', ['B'] = 'Β', ['E'] = 'Ε', ['H'] = 'Η', ['I'] = 'Ι', ['K'] = 'Κ', ['M'] = 'Μ', ['N'] = 'Ν', ['O'] = 'Ο',
        ['P'] = 'Ρ', ['T'] = 'Τ', ['Y'] = 'Υ', ['Z'] = 'Ζ', ['X'] = 'Χ', ['o'] = 'ο', ['i'] = 'ι', ['v'] = 'ν', ['u'] = 'υ',
        ['a'] = 'α', ['p'] = 'ρ',
    };

    private static readonly Dictionary<char, char> Armenian = new()
    {
        ['o'] = 'օ', ['u'] = 'ս', ['n'] = 'ո', ['h'] = 'հ', ['g'] = 'ց', ['q'] = 'զ', ['O'] = 'Օ', ['S'] = 'Տ', ['U'] = 'Ս',
    };

    private static readonly Dictionary<char, char> Digits = new() { ['o'] = '0', ['O'] = '0', ['i'] = '1', ['I'] = '1', ['e'] = '3', ['s'] = '5' };

    /// <summary><paramref name="name"/> rewritten as the kind of evasion says.</summary>
    public static string Rewrite(string name, string kind) => kind switch
    {
        "one Cyrillic letter" => ReplaceFirst(name, Cyrillic),
        "one Greek letter" => ReplaceFirst(name, Greek),
        "every look-alike letter" => new string([.. name.Select(c => Cyrillic.TryGetValue(c, out var x) ? x : Greek.TryGetValue(c, out var y) ? y : c)]),
        "mixed Cyrillic, Greek and Armenian" => Alternate(name),
        "fullwidth" => new string([.. name.Select(c => c is > ' ' and <= '~' ? (char)(c - 0x21 + 0xFF01) : c == ' ' ? '\u3000' : c)]),
        "zero-width characters inside" => Interleave(name, ["\u200B", "\u200C", "\u200D", "\u2060", "\uFEFF"]),
        "format characters inside" => Interleave(name, ["\u00AD", "\u200E", "\u202E", "\u2066", "\u180E"]),
        "combining accents" => Interleave(name, ["\u0301", "\u0308", "\u0303", "\u0327\u0336", "\u20DD"], afterLettersOnly: true),
        "digits for letters" => ReplaceEvery(name, Digits, every: 2),
        "words run together" => name.Replace(" ", string.Empty, StringComparison.Ordinal),
        "words joined by dots" => name.Replace(' ', '.'),
        "capitals run together" => name.Replace(" ", string.Empty, StringComparison.Ordinal).ToUpperInvariant(),
        "blank characters between words" => BetweenWords(name, Blanks),
        "invisible characters between words" => BetweenWords(name, Invisibles),
        "negative squared letters" => Glyphs(name, (letter, _) => Rune(0x1F170 + letter)),
        "negative circled letters" => Glyphs(name, (letter, _) => Rune(0x1F150 + letter)),
        "regional indicator letters" => Glyphs(name, (letter, _) => Rune(0x1F1E6 + letter)),
        "parenthesized letters" => Glyphs(name, (letter, upper) => Rune((upper ? 0x1F110 : 0x249C) + letter)),
        "circled letters" => Glyphs(name, (letter, upper) => Rune((upper ? 0x24B6 : 0x24D0) + letter)),
        "squared letters" => Glyphs(name, (letter, _) => Rune(0x1F130 + letter)),
        "mathematical letters" => Mathematical(name),
        "double-struck letters" => Glyphs(name, (letter, upper) => upper ? DoubleStruckCapital(letter) : Rune(0x1D552 + letter)),
        "small capitals" => Glyphs(name, (letter, upper) => upper && ModifierCapitals[letter] != '-'
            ? ModifierCapitals[letter].ToString() : SmallCapitals[letter].ToString()),
        "superscript and subscript letters" => Glyphs(name, (letter, upper) => (upper ? Superscripts : Subscripts)[letter] is var glyph && glyph != '-'
            ? glyph.ToString() : Superscripts[letter].ToString()),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a kind of evasion"),
    };

    // Letters a person reads as Latin ones, written here by hand rather than taken from the service's tables; '-' where
    // Unicode has no such form of the letter (the name then keeps another form of it).
    private const string SmallCapitals = "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘꞯʀꜱᴛᴜᴠᴡxʏᴢ";
    private const string ModifierCapitals = "ᴬᴮ-ᴰᴱ-ᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾ-ᴿ-ᵀᵁⱽᵂ---";
    private const string Superscripts = "ᵃᵇᶜᵈᵉᶠᵍʰᶦʲᵏˡᵐⁿᵒᵖqʳˢᵗᵘᵛʷˣʸᶻ";
    private const string Subscripts = "ₐ---ₑ--ₕᵢⱼₖₗₘₙₒₚ-ᵣₛₜᵤᵥ-ₓ--";

    // Each Latin letter written in another form: the form's glyph for letter index 0–25 and whether it was a capital.
    private static string Glyphs(string name, Func<int, bool, string> glyph) =>
        string.Concat(name.Select(c => c is >= 'A' and <= 'Z' ? glyph(c - 'A', true) : c is >= 'a' and <= 'z' ? glyph(c - 'a', false) : c.ToString()));

    private static string Rune(int value) => char.ConvertFromUtf32(value);

    // Letter by letter through four of the mathematical alphabets that have every letter: bold, bold fraktur,
    // sans-serif bold, monospace.
    private static string Mathematical(string name)
    {
        int[] capitals = [0x1D400, 0x1D56C, 0x1D5D4, 0x1D670];
        var next = 0;
        return Glyphs(name, (letter, upper) => Rune(capitals[next++ % capitals.Length] + letter + (upper ? 0 : 26)));
    }

    // The double-struck capitals C, H, N, P, Q, R and Z are in Letterlike Symbols; the mathematical block leaves their places empty.
    private static string DoubleStruckCapital(int letter) => (char)('A' + letter) switch
    {
        'C' => "ℂ", 'H' => "ℍ", 'N' => "ℕ", 'P' => "ℙ", 'Q' => "ℚ", 'R' => "ℝ", 'Z' => "ℤ",
        _ => Rune(0x1D538 + letter),
    };

    private static string ReplaceFirst(string name, Dictionary<char, char> map)
    {
        var index = name.Select((c, i) => (c, i)).First(pair => map.ContainsKey(pair.c)).i;
        return string.Concat(name.AsSpan(0, index), map[name[index]].ToString(), name.AsSpan(index + 1));
    }

    private static string ReplaceEvery(string name, Dictionary<char, char> map, int every)
    {
        var seen = 0;
        return new string([.. name.Select(c => map.TryGetValue(c, out var x) && seen++ % every == 0 ? x : c)]);
    }

    // Letter by letter, each from the next script that has a look-alike for it: a name of three scripts at once.
    private static string Alternate(string name)
    {
        Dictionary<char, char>[] scripts = [Cyrillic, Greek, Armenian];
        var builder = new StringBuilder(name.Length);
        var next = 0;
        foreach (var c in name)
        {
            var script = Enumerable.Range(0, scripts.Length).Select(offset => scripts[(next + offset) % scripts.Length])
                .FirstOrDefault(candidate => candidate.ContainsKey(c));
            builder.Append(script is null ? c : script[c]);
            next += script is null ? 0 : 1;
        }

        return builder.ToString();
    }

    // Each space replaced with the next of the replacements, the name's words kept apart only by what cannot be seen.
    private static string BetweenWords(string name, string[] replacements)
    {
        var next = 0;
        return string.Concat(name.Select(c => c == ' ' ? replacements[next++ % replacements.Length] : c.ToString()));
    }

    private static string Interleave(string name, string[] insertions, bool afterLettersOnly = false)
    {
        var builder = new StringBuilder(name.Length * 2);
        var next = 0;
        foreach (var c in name)
        {
            builder.Append(c);
            if (char.IsLetter(c) || !afterLettersOnly && c != ' ')
            {
                builder.Append(insertions[next++ % insertions.Length]);
            }
        }

        return builder.ToString();
    }
}
