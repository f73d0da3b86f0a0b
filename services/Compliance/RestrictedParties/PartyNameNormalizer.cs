using System.Text;

namespace Brokering.Compliance.RestrictedParties;

/// <summary>A word of a normalized name, weighted by how much it says about who the party is.</summary>
/// <param name="Text">The word, lower case, without punctuation or diacritics.</param>
/// <param name="Weight">1 for distinctive words; less for descriptive words (technology, Shanghai…).</param>
internal readonly record struct NameToken(string Text, double Weight);

/// <summary>One Latin reading of a name, compared both ways.</summary>
/// <param name="Tokens">Its weighted words, legal forms left out.</param>
/// <param name="RunTogether">Its words written without breaks, whole and without the legal and descriptive words at either end (see <see cref="PartyNameNormalizer.RunTogether"/>).</param>
internal sealed record NameReading(IReadOnlyList<NameToken> Tokens, IReadOnlyList<string> RunTogether);

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

    // Legal forms and descriptive words, which a glued name may carry at either end.
    private static readonly string[] StrippableWords = [.. LegalWords.Concat(DescriptiveWords).Concat(CjkDescriptors).Distinct(StringComparer.Ordinal)];

    // Legal forms of three letters that end no ordinary word, so they come off a glued name anywhere (see RunTogether).
    private static readonly HashSet<string> LegalAbbreviations = new(StringComparer.Ordinal) { "ltd", "llc", "llp", "plc", "pte", "pty", "jsc" };

    // What is left of a run must still be a name: two letters, the length of a CJK name such as 浪潮.
    private const int MinimumRunLength = 2;

    private static readonly char[] Apostrophes = ['\'', '’', 'ʼ', '‘', '`', 'ʻ', '.'];

    /// <summary>The weighted words of a name's canonical reading, in their original order.</summary>
    public static IReadOnlyList<NameToken> Tokens(string name) => TokensOf(Words(LatinReadings.Canonical(name)));

    /// <summary>Each Latin reading of a name (see <see cref="LatinReadings"/>), canonical first, as words and run together.</summary>
    public static IReadOnlyList<NameReading> Readings(string name) =>
        [.. LatinReadings.Of(name).Select(Words).Select(words => new NameReading(TokensOf(words), RunTogether(words)))];

    private static string[] Words(string reading) => Fold(reading).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static List<NameToken> TokensOf(string[] words)
    {
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

    /// <summary>
    /// The name's words written without the breaks between them, as whoever glues a listed name together writes it
    /// ("InspurGroup", "INSPURGROUPCO.,LTD.", words joined by an invisible character): the whole run, then each run left
    /// once every legal form and descriptive word that can come off either end has come off ("inspurgroupcoltd",
    /// "inspur"). Only such words come off, and only from the ends: a name that merely contains a listed name inside a
    /// longer word is still judged by how similar it is as a whole.
    /// </summary>
    /// <remarks>
    /// Where the name has a break, any such word comes off there. Inside a word, where a glued name has none, a word comes
    /// off only when no ordinary word would end or begin that way: four letters or more ("group", "technology") or a
    /// legal abbreviation ("ltd", "llc"); a shorter one ("co", "ag", "inc", "and") only when what is left ends or
    /// begins with one of those ("groupco"), since "Tabasco", "Lab", "Zinc" and "Holland" end the same way.
    /// </remarks>
    public static IReadOnlyList<string> RunTogether(IReadOnlyList<string> words)
    {
        var whole = string.Concat(words);
        var breaks = new HashSet<int>();
        var offset = 0;
        foreach (var word in words)
        {
            breaks.Add(offset);
            offset += word.Length;
            breaks.Add(offset);
        }

        // Breadth first over the spans left, each step taking one word off either end; a name has few such words, so few spans.
        var spans = new List<(int Start, int End)>();
        if (whole.Length > 0)
        {
            spans.Add((0, whole.Length));
        }

        // The runs in between are not kept: with legal forms or descriptive words still on them they are further from
        // an entry's distinctive words than the run without, and each is one more comparison against every entry.
        var runs = new List<string>();
        for (var next = 0; next < spans.Count; next++)
        {
            var (start, end) = spans[next];
            var run = whole.AsSpan(start, end - start);
            var shortened = false;
            foreach (var word in StrippableWords)
            {
                if (run.Length - word.Length < MinimumRunLength)
                {
                    continue;
                }

                // Off the end, leaving whole[start..cut]; off the front, leaving whole[cut..end].
                var cut = end - word.Length;
                if (run.EndsWith(word, StringComparison.Ordinal)
                    && (breaks.Contains(cut) || GluedOff(word) || EndsWithGluedWord(whole.AsSpan(start, cut - start))))
                {
                    shortened = true;
                    if (!spans.Contains((start, cut)))
                    {
                        spans.Add((start, cut));
                    }
                }

                cut = start + word.Length;
                if (run.StartsWith(word, StringComparison.Ordinal)
                    && (breaks.Contains(cut) || GluedOff(word) || StartsWithGluedWord(whole.AsSpan(cut, end - cut))))
                {
                    shortened = true;
                    if (!spans.Contains((cut, end)))
                    {
                        spans.Add((cut, end));
                    }
                }
            }

            if (next == 0 || !shortened)
            {
                runs.Add(run.ToString());
            }
        }

        return [.. runs.Distinct(StringComparer.Ordinal)];
    }

    private static bool GluedOff(string word) => word.Length >= 4 || LegalAbbreviations.Contains(word);

    private static bool EndsWithGluedWord(ReadOnlySpan<char> run)
    {
        foreach (var word in StrippableWords)
        {
            if (GluedOff(word) && run.Length > word.Length && run.EndsWith(word, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool StartsWithGluedWord(ReadOnlySpan<char> run)
    {
        foreach (var word in StrippableWords)
        {
            if (GluedOff(word) && run.Length > word.Length && run.StartsWith(word, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether the name has a word that says who the party is: not a legal form (Co., Ltd.) nor a descriptive word
    /// (Technology, Shanghai).
    /// </summary>
    public static bool HasDistinctiveWord(string name) =>
        Tokens(name).Any(token => token.Weight >= 1 && !IsLegalForm(token.Text));

    /// <summary>Whether <paramref name="word"/> (lower case, as in a <see cref="NameToken"/>) is a legal form: a name made only of such words keeps them as its tokens.</summary>
    public static bool IsLegalForm(string word) => LegalWords.Contains(word);

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
