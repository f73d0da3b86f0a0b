using System.Globalization;
using System.Text;

namespace Brokering.Compliance.RestrictedParties;

/// <summary>A word of a normalized name, weighted by how much it says about who the party is.</summary>
/// <param name="Text">The word, lower case, without punctuation or diacritics.</param>
/// <param name="Weight">1 for distinctive words; less for descriptive words (technology, Shanghai…).</param>
internal readonly record struct NameToken(string Text, double Weight);

/// <summary>
/// Turns party names into comparable words: case, punctuation, diacritics, legal suffixes
/// (Co., Ltd., Inc., LLC, Group, Corporation, 有限公司…) and word order stop mattering, and
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
        "jsc", "pjsc", "ojsc", "cjsc", "ooo", "zao", "oao", "kk", "group", "groups", "holding", "holdings",
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

    /// <summary>The weighted words of a name, in their original order.</summary>
    public static IReadOnlyList<NameToken> Tokens(string name)
    {
        var text = Fold(name);
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

    /// <summary>
    /// Letters of other scripts that look like Latin ones, after the manner of Unicode TR39's confusable skeletons: a
    /// Cyrillic "ѕ" in "Inspur" or a Greek "Ι" for "I" reads the same to a person and must read the same here, or one
    /// letter is enough to slip a listed name past the threshold. Both cases are listed, since the uppercase forms
    /// (Cyrillic Н, Greek Ρ) look Latin where the lowercase ones do not. Applied to list entries too, so a name listed in
    /// Cyrillic compares with itself exactly as before.
    /// </summary>
    private static readonly Dictionary<char, char> Confusables = new()
    {
        // Cyrillic
        ['А'] = 'a', ['В'] = 'b', ['Е'] = 'e', ['Ѕ'] = 's', ['І'] = 'i', ['Ј'] = 'j', ['К'] = 'k', ['М'] = 'm', ['Н'] = 'h',
        ['О'] = 'o', ['Р'] = 'p', ['С'] = 'c', ['Т'] = 't', ['У'] = 'y', ['Х'] = 'x', ['Ү'] = 'y', ['Һ'] = 'h', ['Ԁ'] = 'd',
        ['Ԛ'] = 'q', ['Ԝ'] = 'w', ['Ӏ'] = 'l',
        ['а'] = 'a', ['е'] = 'e', ['ё'] = 'e', ['ѕ'] = 's', ['і'] = 'i', ['ї'] = 'i', ['ј'] = 'j', ['о'] = 'o', ['р'] = 'p',
        ['с'] = 'c', ['у'] = 'y', ['х'] = 'x', ['ү'] = 'y', ['һ'] = 'h', ['ԁ'] = 'd', ['ԛ'] = 'q', ['ԝ'] = 'w', ['ӏ'] = 'l',
        ['к'] = 'k', ['м'] = 'm', ['т'] = 't',
        // Greek
        ['Α'] = 'a', ['Β'] = 'b', ['Ε'] = 'e', ['Ζ'] = 'z', ['Η'] = 'h', ['Ι'] = 'i', ['Κ'] = 'k', ['Μ'] = 'm', ['Ν'] = 'n',
        ['Ο'] = 'o', ['Ρ'] = 'p', ['Τ'] = 't', ['Υ'] = 'y', ['Χ'] = 'x',
        ['α'] = 'a', ['ο'] = 'o', ['ι'] = 'i', ['κ'] = 'k', ['ν'] = 'v', ['ρ'] = 'p', ['τ'] = 't', ['υ'] = 'u', ['χ'] = 'x',
        ['ϲ'] = 'c', ['ϳ'] = 'j', ['ε'] = 'e',
        // Latin look-alikes NFKC leaves alone
        ['ı'] = 'i', ['ȷ'] = 'j', ['ɑ'] = 'a', ['ɡ'] = 'g', ['ʟ'] = 'l', ['ɪ'] = 'i', ['ɴ'] = 'n', ['ʀ'] = 'r', ['ᴏ'] = 'o',
    };

    /// <summary>
    /// The name as a person would read it: compatibility forms (fullwidth, ligatures, circled and styled letters)
    /// unified, invisible format characters (zero-width spaces and joiners, soft hyphens, direction marks) dropped rather
    /// than turned into word breaks, and look-alike letters of other scripts folded onto Latin.
    /// </summary>
    public static string Skeleton(string name)
    {
        var compatible = name.Normalize(NormalizationForm.FormKC);
        var builder = new StringBuilder(compatible.Length);
        foreach (var c in compatible)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format)
            {
                continue;
            }

            builder.Append(Confusables.TryGetValue(c, out var latin) ? latin : c);
        }

        return builder.ToString();
    }

    private static string Fold(string name)
    {
        // Compatibility forms, invisible characters and look-alike letters first, so "ＩＮＳＰＵＲ", "In\u200Bspur" and
        // "Inѕpur" are all "inspur".
        var text = Skeleton(name).ToLowerInvariant();
        foreach (var form in CjkLegalForms)
        {
            text = text.Replace(form, " ", StringComparison.Ordinal);
        }

        foreach (var descriptor in CjkDescriptors)
        {
            text = text.Replace(descriptor, $" {descriptor} ", StringComparison.Ordinal);
        }

        var builder = new StringBuilder(text.Length);
        foreach (var c in text.Normalize(NormalizationForm.FormD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark || Apostrophes.Contains(c))
            {
                continue; // diacritics, and the apostrophes of Wade-Giles (Ch'ao) and dotted abbreviations (L.L.C.)
            }

            builder.Append(c == '&' ? " and " : char.IsLetterOrDigit(c) ? c.ToString() : " ");
        }

        return builder.ToString().Normalize(NormalizationForm.FormC);
    }
}
