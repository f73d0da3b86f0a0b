using System.Text;
using System.Text.RegularExpressions;

namespace Brokering.Compliance.RestrictedParties;

/// <summary>
/// The names of restricted-party lists as compared: an officer typing "entity list" or "Entity  List" means the Entity
/// List, and a duplicate check that read them as three lists let one party be listed three times.
/// </summary>
internal static partial class ListNames
{
    /// <summary>The spelling a new list is stored under: surrounding white space trimmed, each run of it one space.</summary>
    public static string Tidy(string name) => Spaces().Replace(name.Trim(), " ");

    /// <summary>What two spellings of one list share: tidied, width-folded (NFKC) and in capitals.</summary>
    public static string Key(string name) => Tidy(name.Normalize(NormalizationForm.FormKC)).ToUpperInvariant();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
