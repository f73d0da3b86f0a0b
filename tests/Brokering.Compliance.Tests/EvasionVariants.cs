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
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a kind of evasion"),
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
