namespace Brokering.Compliance;

/// <summary>Settings of the compliance service (section "Compliance").</summary>
internal sealed class ComplianceOptions
{
    public const string Section = "Compliance";

    /// <summary>A restricted-party list not confirmed current for longer than this makes screening deny. Default 30 days.</summary>
    public TimeSpan RestrictedPartyListMaxAge { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Name similarity in [0, 1] at or above which a party matches a list entry. Default 0.85.</summary>
    public double MatchThreshold { get; set; } = 0.85;

    /// <summary>
    /// Name similarity in [0, 1] at or above which, while below <see cref="MatchThreshold"/>, a party is a potential
    /// match: the decision waits for a compliance officer's review instead of clearing or denying. At or above
    /// <see cref="MatchThreshold"/> there is no review band. Default 0.8.
    /// </summary>
    public double ReviewThreshold { get; set; } = 0.8;

    /// <summary>
    /// What screening does with a buyer organisation compliance's officers have not registered (<c>PUT /v1/buyers/{id}</c>):
    /// its legal name and its ultimate parent are unknown, so neither can be screened. Default
    /// <see cref="UnregisteredBuyerPolicy.Refuse"/>: know your customer first.
    /// </summary>
    public UnregisteredBuyerPolicy UnregisteredBuyers { get; set; } = UnregisteredBuyerPolicy.Refuse;

    /// <summary>Whether start-up adds the demo restricted-party entries shipped with the service. Default true.</summary>
    public bool SeedDemoRestrictedParties { get; set; } = true;

    /// <summary>
    /// How long after compliance vouches for a decision a commit made on it may still land (see
    /// <c>VouchForDecision</c>). It bounds how late a commit can land on rules that changed after the answer: only a
    /// rule set taking effect less than this after its publication can meet a commit vouched for just before it.
    /// Default 3 s.
    /// </summary>
    public TimeSpan DecisionVouchWindow { get; set; } = TimeSpan.FromSeconds(3);
}

/// <summary>See <see cref="ComplianceOptions.UnregisteredBuyers"/>.</summary>
internal enum UnregisteredBuyerPolicy
{
    /// <summary>Denied, the reason saying the buyer organisation is not registered; an officer registers it and the buyer submits again.</summary>
    Refuse,

    /// <summary>
    /// Screened on what the reservation says (the end user, and the buyer's parent when given): for development and
    /// test installations whose buyers nobody registers, never for a real one.
    /// </summary>
    ScreenReservationOnly,
}
