namespace Brokering.Compliance.Classification;

/// <summary>The classifications the service reports.</summary>
internal static class ExportClassification
{
    /// <summary>ECCN 3A090.a.</summary>
    public const string A = "3A090.a";

    /// <summary>ECCN 3A090.b.</summary>
    public const string B = "3A090.b";

    /// <summary>Outside 3A090.</summary>
    public const string None = "none";

    /// <summary>The classifications a rule set's criteria may assign.</summary>
    public static readonly IReadOnlySet<string> Controlled = new HashSet<string>(StringComparer.Ordinal) { A, B };
}
