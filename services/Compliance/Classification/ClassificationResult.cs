namespace Brokering.Compliance.Classification;

/// <summary>A product's classification under one rule set, with the figures it rests on.</summary>
/// <param name="Classification">"3A090.a", "3A090.b" or "none".</param>
/// <param name="Tpp">Total processing performance.</param>
/// <param name="PerformanceDensity">TPP ÷ die area.</param>
/// <param name="RuleSetVersion">The rule set applied; empty when none was in force.</param>
/// <param name="Reasons">The thresholds that fired, or why none did.</param>
internal sealed record ClassificationResult(
    string Classification,
    double Tpp,
    double PerformanceDensity,
    string RuleSetVersion,
    IReadOnlyList<string> Reasons)
{
    /// <summary>True for 3A090.a and 3A090.b.</summary>
    public bool IsControlled => Classification != ExportClassification.None;
}
