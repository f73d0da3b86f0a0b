using System.Collections.Concurrent;

namespace Brokering.Compliance.RestrictedParties;

/// <summary>The best match of a name against one list entry.</summary>
/// <param name="Entry">The entry.</param>
/// <param name="MatchedName">The entry name or alias that matched best.</param>
/// <param name="Score">Similarity in [0, 1].</param>
internal sealed record NameMatch(RestrictedPartyEntry Entry, string MatchedName, double Score);

/// <summary>
/// Fuzzy matching of party names against a restricted-party list. Each name is compared with every
/// entry name and alias as weighted word sets (word order free; a word matches the most similar word
/// of the other name, by edit distance, directly or after folding transliteration variants), as one
/// run of letters of its distinctive words (so "Lang Chao" meets "Langchao"), and with the query's word breaks removed
/// (so "InspurGroup" meets "Inspur Group Co., Ltd."). The entry's words weigh more than the query's, and a name that
/// holds every distinctive word of an entry name or alias is at least a potential match however many words it adds
/// (see <see cref="Containment"/>). Scores are in [0, 1]; a match is a score at or
/// above the threshold, a potential match (for an officer's review) one at or above the review threshold and below it.
/// </summary>
internal sealed class RestrictedPartyMatcher
{
    private const double WordFloor = 0.8;
    private const double FoldDiscount = 0.95;
    private const double EntryWeight = 0.7;

    // Distinctive letters an entry name or alias needs, all of them present in order in a name, for that name to be a
    // match rather than a potential one whatever else it says. Eight letters of a coined name (Loongson, Langchao, Moore
    // Threads) do not turn up in another company's name by chance; five or six (Biren, Inspur) can, as a surname or a
    // word of another language, and such a name goes to an officer.
    private const int DistinctiveLetters = 8;

    // Scores are a pure function of the name and this list, and the same buyers, parents and end users come back in
    // reservation after reservation: each is compared with every entry once per list version (a new list builds a new
    // matcher). Bounded, because the matches endpoint lets a caller score any text.
    private const int RememberedNames = 4096;

    private readonly IReadOnlyList<(RestrictedPartyEntry Entry, IReadOnlyList<PreparedName> Names)> entries;
    private readonly ConcurrentDictionary<string, IReadOnlyList<NameMatch>> scored = new(StringComparer.Ordinal);

    public RestrictedPartyMatcher(IEnumerable<RestrictedPartyEntry> entries, double threshold, double? reviewThreshold = null)
    {
        Threshold = threshold;
        ReviewThreshold = Math.Min(reviewThreshold ?? threshold, threshold);
        this.entries = [.. entries.Select(entry => (entry, (IReadOnlyList<PreparedName>)[.. entry.AllNames.Select(PreparedName.Of)]))];
    }

    /// <summary>The score at or above which a name counts as a match.</summary>
    public double Threshold { get; }

    /// <summary>The score at or above which a name is at least a potential match; equal to <see cref="Threshold"/> when there is no review band.</summary>
    public double ReviewThreshold { get; }

    /// <summary>Number of entries searched.</summary>
    public int Count => entries.Count;

    /// <summary>Entries whose best score for <paramref name="name"/> reaches the threshold, best first.</summary>
    public IReadOnlyList<NameMatch> Match(string name) => [.. Score(name).Where(match => match.Score >= Threshold)];

    /// <summary>Entries whose best score for <paramref name="name"/> reaches the review threshold (matches and potential matches), best first.</summary>
    public IReadOnlyList<NameMatch> Resemble(string name) => [.. Score(name).Where(match => match.Score >= ReviewThreshold)];

    /// <summary>Whether a score is a potential match: in the review band, below the threshold.</summary>
    public bool IsPotential(double score) => score >= ReviewThreshold && score < Threshold;

    /// <summary>The best score of <paramref name="name"/> against every entry, best first.</summary>
    public IReadOnlyList<NameMatch> Score(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (scored.TryGetValue(name, out var remembered))
        {
            return remembered;
        }

        var scores = ScoreAgainstEveryEntry(name);
        if (scored.Count >= RememberedNames)
        {
            scored.Clear();
        }

        scored[name] = scores;
        return scores;
    }

    private IReadOnlyList<NameMatch> ScoreAgainstEveryEntry(string name)
    {
        var query = PreparedName.Of(name);
        return
        [
            .. entries
                .Select(entry => entry.Names
                    .Select(candidate => new NameMatch(entry.Entry, candidate.Original, Scored(query, candidate)))
                    .MaxBy(match => match.Score)!)
                .OrderByDescending(match => match.Score)
                .ThenBy(match => match.Entry.Name, StringComparer.Ordinal),
        ];
    }

    /// <summary>The similarity of two names in [0, 1], before a name that holds an entry's words is raised to a band (see <see cref="Containment"/>).</summary>
    public static double Similarity(string left, string right) => Similarity(PreparedName.Of(left), PreparedName.Of(right));

    // Similarity dilutes an entry's words with the query's extra ones (the query's coverage weighs 0.3), so "Inspur Cloud
    // Servers Supply Chain Partners" scored 0.75 against Inspur Group. A name that holds a listed name's distinctive words
    // is the listed party until an officer says otherwise, however many words it adds (see Containment).
    private double Scored(PreparedName query, PreparedName candidate)
    {
        var score = Similarity(query, candidate);
        var held = Containment.None;
        foreach (var left in query.Readings)
        {
            foreach (var right in candidate.Readings)
            {
                held = (Containment)Math.Max((int)held, (int)Holds(left, right));
            }
        }

        return held switch
        {
            Containment.ListedName => Math.Max(score, Threshold),
            Containment.SameWords => Math.Max(score, ReviewThreshold),
            // A near miss is what the review band is for; without one, near misses are cleared, as configured.
            Containment.SimilarWords when ReviewThreshold < Threshold => Math.Max(score, ReviewThreshold),
            _ => score,
        };
    }

    /// <summary>How a name holds the distinctive words of an entry name or alias (legal forms and descriptive words aside).</summary>
    private enum Containment
    {
        /// <summary>Some distinctive word of the entry has no similar word in the name.</summary>
        None,

        /// <summary>Every distinctive word of the entry has a word in the name at word similarity (0.8) or more: at least a potential match.</summary>
        SimilarWords,

        /// <summary>
        /// Every distinctive word of the entry is in the name, as written or once transliteration variants are folded: at
        /// least a potential match, and a match when there is no review band (the listed words themselves are no near miss).
        /// </summary>
        SameWords,

        /// <summary>
        /// The same words, in the entry's order, with <see cref="DistinctiveLetters"/> letters or more together: the listed
        /// name itself, a match.
        /// </summary>
        ListedName,
    }

    private static Containment Holds(PreparedReading query, PreparedReading candidate)
    {
        if (candidate.Distinctive.Count == 0)
        {
            return Containment.None;
        }

        var inOrder = true;
        var exactly = true;
        var after = -1;
        foreach (var i in candidate.Distinctive)
        {
            // The same word after the previous one keeps the order where the name repeats a word; else the same word
            // anywhere; else the most similar word.
            var at = Same(query, candidate, i, after + 1) is var next and >= 0 ? next : Same(query, candidate, i, 0);
            var best = at >= 0 ? 1.0 : 0.0;
            for (var j = 0; at < 0 && j < query.Tokens.Count; j++)
            {
                var similarity = Math.Max(
                    Ratio(candidate.Tokens[i].Text, query.Tokens[j].Text),
                    FoldDiscount * Ratio(candidate.Folded[i], query.Folded[j]));
                if (similarity > best)
                {
                    best = similarity;
                }
            }

            if (best < WordFloor)
            {
                return Containment.None;
            }

            exactly &= at >= 0;
            inOrder &= at > after;
            after = Math.Max(after, at);
        }

        var letters = candidate.Distinctive.Sum(i => candidate.Tokens[i].Text.Length);
        return !exactly ? Containment.SimilarWords
            : inOrder && letters >= DistinctiveLetters ? Containment.ListedName
            : Containment.SameWords;
    }

    // The first word of the query from `from` on that is the candidate's word i as written or once folded, or -1.
    private static int Same(PreparedReading query, PreparedReading candidate, int i, int from)
    {
        for (var j = from; j < query.Tokens.Count; j++)
        {
            if (string.Equals(candidate.Tokens[i].Text, query.Tokens[j].Text, StringComparison.Ordinal)
                || string.Equals(candidate.Folded[i], query.Folded[j], StringComparison.Ordinal))
            {
                return j;
            }
        }

        return -1;
    }

    // The best over every pair of readings: a name is what it reads as in its most telling reading (see LatinReadings).
    private static double Similarity(PreparedName query, PreparedName candidate)
    {
        var best = 0.0;
        foreach (var left in query.Readings)
        {
            foreach (var right in candidate.Readings)
            {
                best = Math.Max(best, Similarity(left, right));
            }
        }

        return best;
    }

    private static double Similarity(PreparedReading query, PreparedReading candidate)
    {
        if (query.Tokens.Count == 0 || candidate.Tokens.Count == 0)
        {
            return 0;
        }

        var queryCoverage = Coverage(query, candidate);
        var candidateCoverage = Coverage(candidate, query);
        var words = EntryWeight * candidateCoverage + (1 - EntryWeight) * queryCoverage;
        var run = Math.Max(Ratio(query.Run, candidate.Run), FoldDiscount * Ratio(query.FoldedRun, candidate.FoldedRun));
        return Math.Round(RunTogether(query, candidate, Math.Max(words, run)), 4);
    }

    // The query written without its word breaks (whole, and with the legal forms and descriptive words at its ends taken off),
    // against the entry's distinctive words run together: "InspurGroup" and "INSPURGROUPCO.,LTD." meet "Inspur Group Co.,
    // Ltd." as its spaced spellings do. Only against the entry's distinctive run: a run that kept the legal forms would let
    // "InspireGroupCo.,Ltd." share most of its letters with "InspurGroupCo.,Ltd.". Returns the better of this and best.
    private static double RunTogether(PreparedReading query, PreparedReading candidate, double best)
    {
        for (var i = 0; i < query.RunTogether.Count; i++)
        {
            best = Math.Max(best, RunRatio(query.RunTogether[i], candidate.Run, best));
            best = Math.Max(best, FoldDiscount * RunRatio(query.FoldedRunTogether[i], candidate.FoldedRun, best / FoldDiscount));
        }

        return best;
    }

    // A run together counts from the word floor, as a word does; below it, or at or below best, it is 0. The lengths alone
    // settle most pairs without an edit distance: a name's runs are tried against every entry, and most are far apart.
    private static double RunRatio(string left, string right, double best)
    {
        var longer = Math.Max(left.Length, right.Length);
        var bound = longer == 0 ? 0 : 1.0 - (double)Math.Abs(left.Length - right.Length) / longer;
        if (bound < WordFloor || bound <= best)
        {
            return 0;
        }

        var ratio = Ratio(left, right);
        return ratio >= WordFloor ? ratio : 0;
    }

    // How much of `of`'s weight finds a similar word in `within`.
    private static double Coverage(PreparedReading of, PreparedReading within)
    {
        double found = 0, total = 0;
        for (var i = 0; i < of.Tokens.Count; i++)
        {
            var best = 0.0;
            for (var j = 0; j < within.Tokens.Count; j++)
            {
                var similarity = Math.Max(
                    Ratio(of.Tokens[i].Text, within.Tokens[j].Text),
                    FoldDiscount * Ratio(of.Folded[i], within.Folded[j]));
                best = Math.Max(best, similarity);
            }

            total += of.Tokens[i].Weight;
            found += of.Tokens[i].Weight * (best >= WordFloor ? best : 0);
        }

        return total == 0 ? 0 : found / total;
    }

    // 1 − edit distance (with adjacent transpositions) ÷ the longer length.
    private static double Ratio(string left, string right)
    {
        if (left.Length == 0 || right.Length == 0)
        {
            return 0;
        }

        if (string.Equals(left, right, StringComparison.Ordinal))
        {
            return 1;
        }

        // Three rolling rows (the transposition looks two back) instead of a matrix: no allocation for a name's words.
        var width = right.Length + 1;
        Span<int> rows = width * 3 <= 384 ? stackalloc int[width * 3] : new int[width * 3];
        var before = rows[..width];
        var previous = rows.Slice(width, width);
        var current = rows.Slice(2 * width, width);
        for (var j = 0; j <= right.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= left.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= right.Length; j++)
            {
                var cost = left[i - 1] == right[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                if (i > 1 && j > 1 && left[i - 1] == right[j - 2] && left[i - 2] == right[j - 1])
                {
                    current[j] = Math.Min(current[j], before[j - 2] + 1);
                }
            }

            var oldest = before;
            before = previous;
            previous = current;
            current = oldest;
        }

        return 1.0 - (double)previous[right.Length] / Math.Max(left.Length, right.Length);
    }

    private sealed record PreparedName(string Original, IReadOnlyList<PreparedReading> Readings)
    {
        public static PreparedName Of(string name) =>
            new(name, [.. PartyNameNormalizer.Readings(name).Select(PreparedReading.Of)]);
    }

    private sealed record PreparedReading(
        IReadOnlyList<NameToken> Tokens,
        IReadOnlyList<int> Distinctive,
        IReadOnlyList<string> Folded,
        string Run,
        string FoldedRun,
        IReadOnlyList<string> RunTogether,
        IReadOnlyList<string> FoldedRunTogether)
    {
        public static PreparedReading Of(NameReading reading)
        {
            var tokens = reading.Tokens;
            // The run is made of the distinctive words only: a shared "Technology" must not make "Birch" look like "Biren".
            var distinctive = tokens.Where(token => token.Weight >= 1).ToList();
            var run = string.Concat((distinctive.Count > 0 ? distinctive : tokens).Select(token => token.Text));
            return new PreparedReading(
                tokens,
                // A name made only of legal forms keeps them as its words; none of them is what makes a party distinctive.
                [.. Enumerable.Range(0, tokens.Count).Where(i => tokens[i].Weight >= 1 && !PartyNameNormalizer.IsLegalForm(tokens[i].Text))],
                [.. tokens.Select(token => PartyNameNormalizer.FoldTransliteration(token.Text))],
                run,
                PartyNameNormalizer.FoldTransliteration(run),
                // The distinctive run is compared already; for most names the run without legal forms is that run.
                [.. reading.RunTogether.Where(together => together != run)],
                [.. reading.RunTogether.Where(together => together != run).Select(PartyNameNormalizer.FoldTransliteration)]);
        }
    }
}
