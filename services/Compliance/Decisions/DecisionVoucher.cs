using Brokering.Compliance.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Compliance.Decisions;

/// <summary>Whether a decision governs a commit made now: yes until <paramref name="ValidUntil"/>, or no and why.</summary>
internal sealed record Vouch(bool Current, DateTimeOffset? ValidUntil, string? Reason, string? RuleSetVersion, DateTimeOffset AsOf)
{
    public static Vouch Refused(string reason, string? ruleSetVersion, DateTimeOffset asOf) => new(false, null, reason, ruleSetVersion, asOf);
}

/// <summary>
/// The commit gate's judge. A screening decision is taken under one rule set and one restricted-party list; a
/// commit made on it long afterwards (a backlog, a manual confirmation) must not outlive either. So before every
/// commit ordering asks here, and the answer comes from compliance's own tables, which a rule change reaches the
/// moment it is published: there is no queue in between for reservation traffic to clog.
/// </summary>
/// <remarks>
/// A rule set published after the decision no longer vouches for it once it has taken effect, whatever it changed
/// (the conservative reading: it may have moved any cutoff); before then, it caps the answer's validity at its
/// effect. A list change ends the vouching at once (a listing is effective immediately), and so does a new registration
/// of the buyer. The answer is valid for
/// <see cref="ComplianceOptions.DecisionVouchWindow"/> at most, which bounds how stale it can be when the commit lands.
/// </remarks>
internal sealed class DecisionVoucher(ComplianceDbContext db, ReferenceDataCache cache, TimeProvider time, IOptionsMonitor<ComplianceOptions> options)
{
    public async Task<Vouch?> VouchAsync(Guid decisionId, CancellationToken cancellationToken)
    {
        var decision = await db.ScreeningDecisions.AsNoTracking()
            .Where(candidate => candidate.Id == decisionId)
            .Select(candidate => new VouchedDecision(
                candidate.Id, candidate.Outcome, candidate.RuleSetVersion, candidate.ListVersion, candidate.EarliestCutoff, candidate.BuyerId, null))
            .SingleOrDefaultAsync(cancellationToken);
        return decision is null ? null : await VouchAsync(decision, cancellationToken);
    }

    /// <summary>
    /// The answer for a decision just taken, given with it, so a caller that commits at once need not ask again: the
    /// reference data is read again after the decision was stored, exactly as <c>VouchForDecision</c> called now would.
    /// </summary>
    public Task<Vouch> VouchForFreshAsync(ScreeningDecision decision, CancellationToken cancellationToken) =>
        VouchAsync(
            new VouchedDecision(decision.Id, decision.Outcome, decision.RuleSetVersion, decision.ListVersion, decision.EarliestCutoff,
                decision.BuyerId, decision.Evidence.Buyer?.RegistrationId),
            cancellationToken);

    private async Task<Vouch> VouchAsync(VouchedDecision decision, CancellationToken cancellationToken)
    {
        // Read after the decision, so a rule set, list or registration change committed before this call is always seen.
        var (snapshot, buyer) = await cache.GetAsync(db, decision.BuyerId, cancellationToken);
        var vouch = Judge(decision, snapshot, time.GetUtcNow(), options.CurrentValue);
        return vouch.Current ? await JudgeBuyerAsync(decision, buyer, vouch, cancellationToken) : vouch;
    }

    // An officer's registration of the buyer (a parent headquartered in China, a listed legal name) changes what
    // screening says of every reservation of that buyer, so a decision taken under another registration, or none, no
    // longer vouches. Most buyers have none (read with the reference data, in the same statement); the decision's
    // evidence is read only when there is one to compare.
    private async Task<Vouch> JudgeBuyerAsync(VouchedDecision decision, Buyers.BuyerRegistration? current, Vouch vouch, CancellationToken cancellationToken)
    {
        if (current is null)
        {
            return vouch;
        }

        var applied = decision.BuyerRegistrationId ?? (await db.ScreeningDecisions.AsNoTracking()
            .Where(candidate => candidate.Id == decision.Id)
            .Select(candidate => candidate.Evidence)
            .SingleAsync(cancellationToken)).Buyer?.RegistrationId;
        return applied == current.Id
            ? vouch
            : Vouch.Refused(
                $"The buyer's registration changed since decision {decision.Id} (recorded {current.RecordedAt:O} by {current.RecordedBy}).",
                vouch.RuleSetVersion, vouch.AsOf);
    }

    private static Vouch Judge(VouchedDecision decision, ReferenceSnapshot snapshot, DateTimeOffset now, ComplianceOptions options)
    {
        var inForce = snapshot.Current?.Version;
        if (decision.Outcome != nameof(Screening.Verdict.Approved))
        {
            return Vouch.Refused($"Decision {decision.Id} is not an approval ({decision.Outcome}).", inForce, now);
        }

        var listNow = snapshot.List?.VersionLabel;
        if (!string.Equals(listNow, decision.ListVersion, StringComparison.Ordinal))
        {
            return Vouch.Refused(
                $"The restricted-party list changed since decision {decision.Id} ({decision.ListVersion ?? "none"} then, {listNow ?? "none"} now).",
                inForce, now);
        }

        if (snapshot.List is { } list && now - list.RefreshedAt > options.RestrictedPartyListMaxAge)
        {
            return Vouch.Refused($"The restricted-party list ({list.VersionLabel}) is no longer confirmed current.", inForce, now);
        }

        // Later means published after the rule set the decision applied, not after the decision's instant: a rule set
        // published while the decision was being taken (after its reference data was read) was not applied either.
        var applied = snapshot.RuleSets.FirstOrDefault(ruleSet => string.Equals(ruleSet.Version, decision.RuleSetVersion, StringComparison.Ordinal));
        if (applied is null)
        {
            return Vouch.Refused($"Decision {decision.Id} names rule set '{decision.RuleSetVersion}', which is not published.", inForce, now);
        }

        var validUntil = now + options.DecisionVouchWindow;
        if (decision.EarliestCutoff is { } cutoff && cutoff < validUntil)
        {
            validUntil = cutoff;
        }

        foreach (var later in snapshot.RuleSets.Where(ruleSet => ruleSet.Sequence > applied.Sequence))
        {
            if (later.EarliestEffect <= now)
            {
                return Vouch.Refused(
                    $"Rule set {later.Version}, published {later.PublishedAt:O} after decision {decision.Id}'s rule set {applied.Version}, took effect at {later.EarliestEffect:O}.",
                    inForce, now);
            }

            if (later.EarliestEffect < validUntil)
            {
                validUntil = later.EarliestEffect;
            }
        }

        return new Vouch(true, validUntil, null, inForce, now);
    }

    // BuyerRegistrationId: the registration the decision applied, when known without reading its evidence.
    private sealed record VouchedDecision(
        Guid Id, string Outcome, string? RuleSetVersion, string? ListVersion, DateTimeOffset? EarliestCutoff, string BuyerId, Guid? BuyerRegistrationId);
}
