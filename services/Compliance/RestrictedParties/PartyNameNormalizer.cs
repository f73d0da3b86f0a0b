using System.Text;

namespace Brokering.Compliance.RestrictedParties;

/// <summary>A word of a normalized name, weighted by how much it says about who the party is.</summary>
/// <param name="Text">The word, lower case, without punctuation or diacritics.</param>
/// <param name="Weight">1 for distinctive words; less for descriptive words (technology, Shanghai…).</param>
internal readonly record struct NameToken(string Text, double Weight);

/// <summary>
/// Turns party names into comparable words: every Latin reading of the name (<see cref="LatinReadings"/>: compatibility
/// forms, invisible characters, diacritics, look-alike letters of other scripts, Cyrillic and Greek), then case,
/// punctuation, legal suffixes (Co., Ltd., Inc., LLC, Group, Corporation, 有限公司…) and word order stop mattering, and
/// descriptive words (Technology, Intelligent, Shanghai…) weigh little.
/// </summary>
internal static class PartyNameNormalizer
{
    /// <summary>Weight of a descriptive word.</summary>
    public const double DescriptiveWeight = 0.15;

    // Longest first: 股份有限公司 must go before 有限公司.
    private static readonly string[] CjkLegalForms =
        ["股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司", "株式会社"];

    private static readonly string[] CjkDescriptors =
        ["智能", "科技", "技术", "信息", "电子", "半导体", "北京", "上海", "深圳", "中国"];

    private static readonly HashSet<string> LegalWords = new(StringComparer.Ordinal)
    {
        "co", "coltd", "company", "companies", "corp", "corporation", "inc", "incorporated", "ltd", "limited",
        "llc", "llp", "lp", "plc", "gmbh", "ag", "sa", "sas", "srl", "spa", "bv", "nv", "oy", "ab", "pte", "pty",
        "jsc", "pjsc", "ojsc", "cjsc", "ooo", "zao", "oao", "pao", "kk", "group", "groups", "holding", "holdings",
        // Russian legal forms as romanised from Cyrillic (ООО "…", Группа, Компания): the name is what remains.
        "grupp", "gruppa", "kompaniya", "kompaniia", "korporatsiya", "korporatsiia",
        "the", "and", "of",
    };

    private static readonly HashSet<string> DescriptiveWords = new(StringComparer.Ordinal)
    {
        "technology", "technologies", "tech", "intelligent", "intelligence", "information", "industry", "industries",
        "industrial", "international", "science", "sciences", "scientific", "electronic", "electronics", "semiconductor",
        "semiconductors", "system", "systems", "solutions", "trading", "development", "research", "enterprise",
        "enterprises", "manufacturing", "computer", "computing", "network", "networks", "software", "digital", "global",
        "china", "chinese", "beijing", "shanghai", "shenzhen", "hong", "kong", "jinan", "hangzhou", "guangzhou",
    };

    private static readonly char[] Apostrophes = ['\'', '’', 'ʼ', '‘', '`', 'ʻ', '.'];

    /// <summary>The weighted words of a name's canonical reading, in their original order.</summary>
    public static IReadOnlyList<NameToken> Tokens(string name) => TokensOf(LatinReadings.Canonical(name));

    /// <summary>The weighted words of each Latin reading of a name (see <see cref="LatinReadings"/>), canonical first.</summary>
    public static IReadOnlyList<IReadOnlyList<NameToken>> TokenReadings(string name) => [.. LatinReadings.Of(name).Select(TokensOf)];

    private static IReadOnlyList<NameToken> TokensOf(string reading)
    {
        var text = Fold(reading);
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var tokens = words
            .Where(word => !LegalWords.Contains(word))
            .Select(word => new NameToken(word, IsDescriptive(word) ? DescriptiveWeight : 1.0))
            .ToList();

        // A name made only of legal words ("Group Co., Ltd.") is still a name.
        return tokens.Count > 0 ? tokens : [.. words.Select(word => new NameToken(word, 1.0))];
    }

    /// <summary>The name in canonical form: its words sorted, so "Group Inspur" and "INSPUR GROUP CO., LTD." agree.</summary>
    public static string Canonical(string name) =>
        string.Join(' ', Tokens(name).Select(token => token.Text).Order(StringComparer.Ordinal));

    /// <summary>
    /// Folds common transliteration variants (Wade-Giles and pinyin, Cyrillic romanisations) onto one
    /// spelling, for a second, slightly discounted comparison: hs/x, erh/er, ien/ian, ts/tz/z, zh/q/ch,
    /// kh/h, ph/f, ks/x, y/i, w/v, doubled letters.
    /// </summary>
    public static string FoldTransliteration(string word)
    {
        var folded = new StringBuilder(word)
            .Replace("hs", "x").Replace("erh", "er").Replace("ien", "ian").Replace("tz", "z").Replace("ts", "z")
            .Replace("zh", "ch").Replace("q", "ch").Replace("kh", "h").Replace("ph", "f").Replace("ks", "x")
            .Replace('y', 'i').Replace('w', 'v')
            .ToString();
        var collapsed = new StringBuilder(folded.Length);
        foreach (var c in folded)
        {
            if (collapsed.Length == 0 || collapsed[^1] != c)
            {
                collapsed.Append(c);
            }
        }

        return collapsed.ToString();
    }

    private static bool IsDescriptive(string word) =>
        DescriptiveWords.Contains(word) || CjkDescriptors.Contains(word, StringComparer.Ordinal);

    // Words of one Latin reading (see LatinReadings, which has already unified compatibility forms, dropped invisible
    // characters and read look-alikes and Cyrillic and Greek, so "ＩＮＳＰＵＲ", "In\u200Bspur" and "Inѕpur" all come as
    // "inspur"): legal forms and punctuation go, descriptive words are split off CJK names.
    private static string Fold(string reading)
    {
        var text = reading;
        foreach (var form in CjkLegalForms)
        {
            text = text.Replace(form, " ", StringComparison.Ordinal);
        }

        foreach (var descriptor in CjkDescriptors)
        {
            text = text.Replace(descriptor, $" {descriptor} ", StringComparison.Ordinal);
        }

        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (Apostrophes.Contains(c))
            {
                continue; // the apostrophes of Wade-Giles (Ch'ao) and dotted abbreviations (L.L.C.)
            }

            builder.Append(c == '&' ? " and " : char.IsLetterOrDigit(c) ? c.ToString() : " ");
        }

        return builder.ToString();
    }
}
