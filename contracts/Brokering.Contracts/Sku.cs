using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Brokering.Contracts;

/// <summary>
/// The one canonical spelling of a SKU, shared by every service so that one SKU is one key everywhere (per-buyer caps,
/// cutoff re-screens, offers, holds, licences): surrounding white space removed, full-width forms (what a CJK input
/// method types) folded to ASCII, upper case. A canonical SKU is 1 to <see cref="InputBounds.MaxSkuLength"/>
/// characters of ASCII letters, digits and <c>- _ . / +</c>; anything else (a look-alike letter from another script, a
/// control character, an inner space) is not a SKU and is refused where it enters.
/// </summary>
public static class Sku
{
    /// <summary>What a SKU may be, as a filter that is no SKU is told (one sentence for every list that filters by SKU).</summary>
    public static string SpellingRule { get; } = $"At most {InputBounds.MaxSkuLength} letters, digits and - _ . / +.";

    /// <summary>Compares SKUs by their canonical spelling (a raw string that is no SKU compares as itself).</summary>
    public static IEqualityComparer<string> Comparer { get; } = new CanonicalComparer();

    /// <summary>The canonical spelling of <paramref name="raw"/>, or null when it is not a SKU.</summary>
    public static string? Normalize(string? raw) => TryNormalize(raw, out var sku) ? sku : null;

    /// <summary>Whether <paramref name="raw"/> is a SKU; if so, <paramref name="sku"/> is its canonical spelling.</summary>
    public static bool TryNormalize(string? raw, [NotNullWhen(true)] out string? sku)
    {
        sku = null;
        if (string.IsNullOrWhiteSpace(raw) || raw.Length > InputBounds.MaxSkuLength * 4)
        {
            return false;
        }

        // The services run with invariant globalization (no ICU, so no NFKC): the full-width block is folded by hand.
        var trimmed = raw.Trim();
        if (trimmed.Length is 0 or > InputBounds.MaxSkuLength)
        {
            return false;
        }

        var folded = new StringBuilder(trimmed.Length);
        foreach (var c in trimmed)
        {
            var ascii = c is >= FullWidthFirst and <= FullWidthLast ? (char)(c - FullWidthFirst + '!') : c;
            var upper = char.ToUpperInvariant(ascii);
            if (!IsSkuCharacter(upper))
            {
                return false;
            }

            folded.Append(upper);
        }

        sku = folded.ToString();
        return true;
    }

    // U+FF01..U+FF5E are the full-width forms of ASCII '!'..'~'.
    private const char FullWidthFirst = '\uFF01';
    private const char FullWidthLast = '\uFF5E';

    private static bool IsSkuCharacter(char c) => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.' or '/' or '+';

    private sealed class CanonicalComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) =>
            string.Equals(x is null ? null : Normalize(x) ?? x, y is null ? null : Normalize(y) ?? y, StringComparison.Ordinal);

        public int GetHashCode(string obj) => StringComparer.Ordinal.GetHashCode(Normalize(obj) ?? obj);
    }
}
