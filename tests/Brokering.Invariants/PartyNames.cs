using System.Globalization;
using System.Text;

namespace Brokering.Invariants;

/// <summary>
/// A deliberately simple, independent second opinion on restricted parties: a name equals a list
/// name or alias once case, punctuation, spacing and legal forms are set aside. It catches the plain
/// cases without trusting compliance's fuzzy matcher (whose own findings are read from its evidence).
/// </summary>
internal static class PartyNames
{
    private static readonly HashSet<string> LegalForms = new(StringComparer.Ordinal)
    {
        "co", "company", "ltd", "limited", "inc", "incorporated", "corp", "corporation", "llc", "plc", "gmbh", "ag", "sa",
        "group", "holding", "holdings",
    };

    /// <summary>Lower-case letters and digits of the distinctive words, run together (so "Lang Chao" equals "Langchao").</summary>
    public static string Key(string name)
    {
        var folded = name.Normalize(NormalizationForm.FormKC).ToLower(CultureInfo.InvariantCulture);
        var words = new StringBuilder(folded.Length);
        foreach (var c in folded)
        {
            words.Append(char.IsLetterOrDigit(c) ? c : ' ');
        }

        return string.Concat(words.ToString()
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(word => !LegalForms.Contains(word)));
    }
}
