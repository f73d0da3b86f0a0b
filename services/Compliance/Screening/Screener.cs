using Brokering.Compliance.Buyers;
using Brokering.Compliance.Catalogue;
using Brokering.Compliance.Licences;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.RuleSets;
using Brokering.Contracts;
using static System.FormattableString;

namespace Brokering.Compliance.Screening;

/// <summary>
/// What screening reads besides the reservation: all loaded before, so screening itself is pure.
/// <c>ReviewClearances</c> are an officer's clearances of one decision's potential matches (see
/// <see cref="Reviews.ReviewDesk"/>): unlike a standing <see cref="PartyClearance"/> they set aside only a resemblance in
/// the review band, never a match at or above the threshold.
/// </summary>
internal sealed record ScreeningContext(
    DateTimeOffset Now,
    RuleSet? RuleSet,
    CountryGroupDirectory Groups,
    IReadOnlyDictionary<string, Product> Products,
    RestrictedPartyList? List,
    RestrictedPartyMatcher Matcher,
    TimeSpan ListMaxAge,
    IReadOnlyList<PartyClearance> Clearances,
    LicenceLedger Licences,
    BuyerRegistration? Buyer = null,
    IReadOnlyList<PartyClearance>? ReviewClearances = null,
    UnregisteredBuyerPolicy UnregisteredBuyers = UnregisteredBuyerPolicy.Refuse);

/// <summary>
/// Screens a reservation: parties against the restricted-party list, each line's product and destination
/// against the most recently published rule set, licences on file. Fails closed: whatever it cannot
/// establish (missing data, unknown product, no rule set, a stale list) denies, with the reason. A party that only
/// resembles an entry (a score in the review band) makes the decision a potential match, for an officer to rule on,
/// unless something denies.
/// </summary>
internal static class Screener
{
    public const string EndUserRole = "end_user";
    public const string BuyerRole = "buyer";
    public const string BuyerParentRole = "buyer_parent";

    public static DecisionEvidence Screen(ScreeningInput input, ScreeningContext context)
    {
        var now = context.Now;
        var denials = new List<string>();
        var destination = NormalizeCountry(input.DestinationCountry);
        // What compliance's officers registered about the buyer governs over what a reservation says: the buyer's
        // legal name is screened, and so is its ultimate parent, whose headquarters (or the buyer's own, when it is its
        // own ultimate parent) the parent-headquarters rule reads.
        var registered = context.Buyer;
        var parentName = registered is not null ? registered.ParentName : input.BuyerParent?.Name;
        var headquarters = registered is null
            ? [NormalizeCountry(input.BuyerParent?.Country)]
            : new[] { registered.ParentHeadquartersCountry, registered.ParentName is null ? registered.Country : null };

        if (context.RuleSet is null)
        {
            denials.Add("no rule set has been published, so no sale can be assessed");
        }

        if (context.List is null)
        {
            denials.Add("no restricted-party list is loaded");
        }
        else if (now - context.List.RefreshedAt > context.ListMaxAge)
        {
            denials.Add(Invariant(
                $"the restricted-party list ({context.List.VersionLabel}) was last confirmed current at {context.List.RefreshedAt:yyyy-MM-ddTHH:mm:ss.FFFZ}, longer ago than the {context.ListMaxAge} allowed"));
        }

        if (string.IsNullOrWhiteSpace(input.BuyerId))
        {
            denials.Add("the buyer id is missing");
        }
        else if (registered is null && context.UnregisteredBuyers == UnregisteredBuyerPolicy.Refuse)
        {
            // Neither the buyer's legal name nor its ultimate parent is known, so neither can be screened: fail closed.
            denials.Add($"the buyer organisation {input.BuyerId} is not registered with compliance, so it and its ultimate parent cannot be screened");
        }

        CheckCountry(input.DestinationCountry, "destination country", denials);
        if (input.EndUser is null || string.IsNullOrWhiteSpace(input.EndUser.Name))
        {
            denials.Add("the end user's name is missing");
        }

        CheckCountry(input.EndUser?.Country, "end user's country", denials);
        if (input.BuyerParent is { } parent && (!string.IsNullOrWhiteSpace(parent.Name) || !string.IsNullOrWhiteSpace(parent.Country)))
        {
            if (string.IsNullOrWhiteSpace(parent.Name))
            {
                denials.Add("the buyer's ultimate parent is given without a name");
            }

            CheckCountry(parent.Country, "buyer's ultimate parent's headquarters country", denials);
        }

        if (input.Lines.Count == 0)
        {
            denials.Add("the reservation has no lines");
        }

        var matches = new List<PartyMatchEvidence>();
        var resemblances = new List<string>();
        if (context.List is not null)
        {
            ScreenParty(EndUserRole, input.EndUser?.Name, context, matches, denials, resemblances);
            ScreenParty(BuyerRole, registered?.LegalName, context, matches, denials, resemblances);
            ScreenParty(BuyerParentRole, parentName, context, matches, denials, resemblances);
        }

        var headquartersCountries = headquarters.Where(country => country is not null).Select(country => country!).Distinct().ToList();
        var lines = input.Lines.Select(line => ScreenLine(input, line, destination, headquartersCountries, denials.Count > 0, context)).ToList();

        var outcome = denials.Count > 0 || lines.Count == 0 || lines.Any(line => line.Outcome == Verdict.Denied) ? Verdict.Denied
            : resemblances.Count > 0 ? Verdict.PotentialMatch
            : lines.Any(line => line.Outcome == Verdict.LicenceRequired) ? Verdict.LicenceRequired
            : Verdict.Approved;
        // A denial says it all; a potential match under one is part of the evidence, not a reason of its own.
        var reasons = new List<string>(denials);
        if (outcome == Verdict.PotentialMatch)
        {
            reasons.AddRange(resemblances);
        }

        reasons.Add(Summary(outcome, lines));

        return new DecisionEvidence(
            input,
            outcome,
            lines,
            matches,
            reasons,
            context.RuleSet is { } ruleSet
                ? new RuleSetEvidence(ruleSet.Version, ruleSet.EffectiveAt, ruleSet.Definition.Accelerated?.EffectiveAt, ruleSet.PublishedAt, ruleSet.Sequence)
                : null,
            context.List is { } list
                ? new ListEvidence(list.VersionLabel, list.RefreshedAt, context.ListMaxAge, context.Matcher.Count, context.Matcher.Threshold,
                    context.Matcher.ReviewThreshold)
                : null,
            now,
            registered is null
                ? null
                : new BuyerEvidence(registered.Id, registered.LegalName, registered.Country, registered.ParentName,
                    registered.ParentHeadquartersCountry, registered.RecordedBy, registered.RecordedAt));
    }

    /// <summary>The assigned ISO 3166-1 alpha-2 code (trimmed, upper-cased), or null when the value is not one.</summary>
    public static string? NormalizeCountry(string? country)
    {
        var code = country?.Trim().ToUpperInvariant();
        return CountryCodes.IsValid(code) ? code : null;
    }

    private static void CheckCountry(string? country, string what, List<string> denials)
    {
        if (string.IsNullOrWhiteSpace(country))
        {
            denials.Add($"the {what} is missing");
        }
        else if (NormalizeCountry(country) is null)
        {
            denials.Add($"the {what} '{country}' is not an ISO 3166-1 alpha-2 code");
        }
    }

    /// <summary>
    /// The reason an uncleared match denies, as the decision's evidence records it for officers: the entry, the alias and
    /// the score against the threshold. Never for the buyer (see <see cref="ForCaller"/>).
    /// </summary>
    public static string MatchReason(PartyMatchEvidence match) => match.Potential
        ? Invariant(
            $"{RoleName(match.Role)} '{match.QueriedName}' resembles '{match.EntryName}' on the {match.List} (as '{match.MatchedName}', score {match.Score:0.###} in the review band [{match.ReviewThreshold:0.###}, {match.Threshold:0.###})): a potential match, for a compliance officer to review")
        : Invariant(
            $"{RoleName(match.Role)} '{match.QueriedName}' matches '{match.EntryName}' on the {match.List} (as '{match.MatchedName}', score {match.Score:0.###} ≥ {match.Threshold:0.###})");

    private static string RoleName(string role) =>
        role switch { BuyerParentRole => "the buyer's ultimate parent", BuyerRole => "the buyer", _ => "the end user" };

    /// <summary>
    /// The decision's reasons as a calling service is given them: a match's evidence (entry, alias, score, threshold) is
    /// replaced by a statement that a party is listed and where the evidence is. Ordering passes reasons on to the buyer,
    /// and a buyer who sees how close a spelling came learns how to tune the next one; the evidence stays with officers.
    /// </summary>
    public static IReadOnlyList<string> ForCaller(DecisionEvidence evidence, Guid decisionId)
    {
        var withheld = evidence.Matches.Where(match => !match.Cleared).Select(MatchReason).ToHashSet(StringComparer.Ordinal);
        var reasons = evidence.Reasons.Where(reason => !withheld.Contains(reason)).ToList();
        if (evidence.Outcome == Verdict.PotentialMatch)
        {
            reasons.Insert(0, $"a party to the reservation awaits a compliance officer's review under decision {decisionId}");
        }
        else if (evidence.Matches.Any(match => !match.Cleared && !match.Potential))
        {
            reasons.Insert(0, $"a party to the reservation is on a restricted-party list; the evidence is with compliance officers under decision {decisionId}");
        }

        return reasons;
    }

    private static void ScreenParty(
        string role, string? name, ScreeningContext context, List<PartyMatchEvidence> matches, List<string> denials, List<string> resemblances)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return;
        }

        var canonical = PartyNameNormalizer.Canonical(name);
        foreach (var match in context.Matcher.Resemble(name))
        {
            var potential = context.Matcher.IsPotential(match.Score);
            var clearance = context.Clearances.FirstOrDefault(candidate => candidate.Covers(canonical, match.Entry.Id))
                ?? (potential ? context.ReviewClearances?.FirstOrDefault(candidate => candidate.Covers(canonical, match.Entry.Id)) : null);
            var evidence = new PartyMatchEvidence(
                role, name, match.Entry.Id, match.Entry.Name, match.MatchedName, match.Score, context.Matcher.Threshold,
                match.Entry.List, clearance is not null, clearance?.Reason, clearance?.Id,
                // A word mixing scripts is no genuine spelling: the officer reviewing the match should know it was disguised.
                LatinReadings.MixesScripts(name),
                potential,
                context.Matcher.ReviewThreshold);
            matches.Add(evidence);
            if (clearance is null)
            {
                (potential ? resemblances : denials).Add(MatchReason(evidence));
            }
        }
    }

    private static LineDecision ScreenLine(
        ScreeningInput input, ScreeningLineInput line, string? destination, IReadOnlyList<string> headquarters, bool reservationDenied, ScreeningContext context)
    {
        var sku = line.Sku?.Trim() ?? string.Empty;
        if (sku.Length == 0)
        {
            return Denied(sku, line.Quantity, "no SKU is given");
        }

        if (!context.Products.TryGetValue(sku, out var product))
        {
            return Denied(sku, line.Quantity, $"unknown product '{sku}': not in the catalogue, so it cannot be classified");
        }

        var specs = product.Specs;
        if (line.Quantity <= 0)
        {
            return Denied(product.Sku, line.Quantity, "the quantity must be positive", specs);
        }

        if (context.RuleSet is null || destination is null)
        {
            return Denied(product.Sku, line.Quantity, "denied with the reservation (see its reasons)", specs);
        }

        var (assessment, licenceCountry) = Governing(context, specs, destination, NormalizeCountry(input.EndUser?.Country), headquarters);
        var classification = assessment.Classification;
        var reasons = new List<string>(assessment.Reasons);
        LineDecision Decide(Verdict verdict, DateTimeOffset? cutoff, string? licence = null) => new(
            product.Sku, line.Quantity, verdict, cutoff, classification.Classification, classification.Tpp,
            classification.PerformanceDensity, specs, licence, reasons);

        if (reservationDenied)
        {
            reasons.Add("denied with the reservation (see its reasons)");
            return Decide(Verdict.Denied, assessment.Cutoff);
        }

        if (assessment.Cutoff is not { } cutoff)
        {
            return Decide(Verdict.Approved, null);
        }

        if (cutoff > context.Now)
        {
            reasons.Add(Invariant($"approved until the cutoff {cutoff:yyyy-MM-ddTHH:mm:ss.FFFZ}"));
            return Decide(Verdict.Approved, cutoff);
        }

        var licence = context.Licences.TryCover(input.BuyerId!, product.Sku, licenceCountry, line.Quantity, context.Now, out var shortfall);
        if (licence is not null)
        {
            reasons.Add(Invariant($"covered by licence {licence.Number} (valid until {licence.ValidUntil:yyyy-MM-ddTHH:mm:ss.FFFZ}), which is the line's cutoff now"));
            return Decide(Verdict.Approved, licence.ValidUntil, licence.Number);
        }

        reasons.Add(shortfall ?? "no licence on file covers this buyer, product and destination");
        return Decide(Verdict.LicenceRequired, cutoff);
    }

    /// <summary>
    /// The assessment that governs a line, and the country a licence must name. Goods shipped to one country for an end
    /// user in another are exported to that end user in substance (shipping to Malaysia for an end user in China is the
    /// textbook diversion), so the end user's country is assessed as a destination too and the stricter answer governs:
    /// a cutoff over none, the earlier cutoff over the later. A licence must then cover the country that governs.
    /// The same holds for headquarters: the buyer's ultimate parent's, and the buyer's own when it is its own ultimate
    /// parent, are each assessed.
    /// </summary>
    private static (CutoffAssessment Assessment, string LicenceCountry) Governing(
        ScreeningContext context, Classification.ProductSpecs specs, string destination, string? endUserCountry, IReadOnlyList<string> headquarters)
    {
        (CutoffAssessment Assessment, string LicenceCountry)? strictest = null;
        foreach (var country in endUserCountry is null || endUserCountry == destination ? [destination] : new[] { destination, endUserCountry })
        {
            foreach (var hq in headquarters.Count == 0 ? [null] : headquarters.Cast<string?>())
            {
                var assessment = CutoffRules.Assess(context.RuleSet!, specs, country, hq, context.Groups);
                if (country != destination)
                {
                    assessment = assessment with
                    {
                        Reasons = [.. assessment.Reasons.Prepend($"the end user is in {country}, not the destination {destination}: assessed for {country}, the stricter")],
                    };
                }

                if (strictest is not { } current || Stricter(assessment.Cutoff, current.Assessment.Cutoff))
                {
                    strictest = (assessment, country);
                }
            }
        }

        return strictest!.Value;
    }

    // A cutoff is stricter than none, and an earlier one than a later one.
    private static bool Stricter(DateTimeOffset? candidate, DateTimeOffset? current) =>
        candidate is { } at && (current is not { } other || at < other);

    private static LineDecision Denied(string sku, long quantity, string reason, Classification.ProductSpecs? specs = null) =>
        new(sku, quantity, Verdict.Denied, null, Classification.ExportClassification.None, specs?.TotalProcessingPerformance,
            specs?.PerformanceDensity, specs, null, [reason]);

    private static string Summary(Verdict outcome, IReadOnlyList<LineDecision> lines)
    {
        var approved = lines.Count(line => line.Outcome == Verdict.Approved);
        var licence = lines.Count(line => line.Outcome == Verdict.LicenceRequired);
        var denied = lines.Count(line => line.Outcome == Verdict.Denied);
        var cutoff = lines.Where(line => line.Cutoff is not null).Select(line => line.Cutoff!.Value).DefaultIfEmpty().Min();
        var summary = $"{outcome}: {approved} line(s) approved, {licence} need a licence, {denied} denied";
        return lines.Any(line => line.Cutoff is not null) ? Invariant($"{summary}; earliest cutoff {cutoff:yyyy-MM-ddTHH:mm:ss.FFFZ}") : summary;
    }
}
