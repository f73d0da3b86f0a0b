using Brokering.Compliance.Data;
using Brokering.Compliance.Decisions;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.Screening;
using Brokering.Contracts.Ordering;
using Brokering.Messaging.Postgres;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Compliance.Reviews;

/// <summary>What became of a ruling.</summary>
internal abstract record RulingResult
{
    public sealed record Ruled(MatchReview Review, ScreeningDecision Filed) : RulingResult;

    public sealed record UnknownDecision : RulingResult;

    public sealed record NotUnderReview(string Outcome) : RulingResult;

    public sealed record AlreadyRuled(MatchReview Review) : RulingResult;

    public sealed record Superseded(Guid LaterDecisionId) : RulingResult;

    public sealed record ReservationEnded(string Outcome, DateTimeOffset EndedAt) : RulingResult;
}

/// <summary>
/// The officers' review desk: potential-match decisions wait here until an officer clears or confirms them. A ruling is
/// filed as a new screening decision in the same transaction as the ruling itself, and told to ordering as a
/// <see cref="ReservationScreened"/> through compliance's outbox, so the reservation waiting under review moves on (or
/// ends) exactly when the ruling commits, never on a ruling that did not. Clearing screens the reservation again with the
/// officer's clearance of those resemblances only (a match at or above the threshold still denies), under the rules in
/// force now: an approval with the cutoff screening gives, in the ordinary case. Confirming files a denial.
/// </summary>
internal sealed class ReviewDesk(ComplianceDbContext db, ScreeningService screening, IPublishEndpoint publishEndpoint, TimeProvider time)
{
    private static readonly string PotentialMatch = nameof(Verdict.PotentialMatch);

    /// <summary>
    /// Open potential matches, oldest first: not ruled on, not overtaken by a later screening of the same reservation, and
    /// of a reservation that has not ended.
    /// </summary>
    public async Task<IReadOnlyList<ScreeningDecision>> QueueAsync(int limit, CancellationToken cancellationToken) =>
        await db.ScreeningDecisions.AsNoTracking()
            .Where(decision => decision.Outcome == PotentialMatch
                && !db.MatchReviews.Any(review => review.DecisionId == decision.Id)
                && !db.EndedReservations.Any(ended => ended.ReservationId == decision.ReservationId)
                && !db.ScreeningDecisions.Any(later => later.ReservationId == decision.ReservationId && later.DecidedAt > decision.DecidedAt))
            .OrderBy(decision => decision.DecidedAt)
            .ThenBy(decision => decision.Id)
            .Take(limit)
            .ToListAsync(cancellationToken);

    /// <summary>Rules on a potential match (<see cref="ReviewRuling"/>) for <paramref name="officer"/>, once.</summary>
    public async Task<RulingResult> RuleAsync(Guid decisionId, string ruling, string reason, string officer, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // The decision's row lock serialises rulings on it: a second officer's ruling waits, then finds the first.
        var decision = await db.ScreeningDecisions.AsNoTracking()
            .Where(candidate => candidate.Id == decisionId)
            .ForUpdate(db)
            .SingleOrDefaultAsync(cancellationToken);
        if (decision is null)
        {
            return new RulingResult.UnknownDecision();
        }

        if (decision.Outcome != PotentialMatch)
        {
            return new RulingResult.NotUnderReview(decision.Outcome);
        }

        if (await db.MatchReviews.AsNoTracking().SingleOrDefaultAsync(review => review.DecisionId == decisionId, cancellationToken) is { } earlier)
        {
            return new RulingResult.AlreadyRuled(earlier);
        }

        // Read under the decision's lock, which the end's announcement takes too (ReservationEndedConsumer): a clearance
        // of an ended reservation would draw licence units nothing gives back, for a sale that cannot happen.
        if (await db.EndedReservations.AsNoTracking().SingleOrDefaultAsync(ended => ended.ReservationId == decision.ReservationId, cancellationToken) is { } end)
        {
            return new RulingResult.ReservationEnded(end.Outcome, end.EndedAt);
        }

        var later = await db.ScreeningDecisions.AsNoTracking()
            .Where(candidate => candidate.ReservationId == decision.ReservationId && candidate.DecidedAt > decision.DecidedAt)
            .OrderBy(candidate => candidate.DecidedAt)
            .Select(candidate => (Guid?)candidate.Id)
            .FirstOrDefaultAsync(cancellationToken);
        if (later is { } laterId)
        {
            return new RulingResult.Superseded(laterId);
        }

        var now = time.GetUtcNow();
        ScreeningDecision filed;
        bool drawn;
        if (ruling == ReviewRuling.Cleared)
        {
            (filed, drawn, _) = await screening.FileAsync(
                decision.Evidence.Inputs, [.. Clearances(decision.Evidence, decision.Id, reason, officer, now)], cancellationToken);
        }
        else
        {
            filed = Denial(decision, now);
            db.ScreeningDecisions.Add(filed);
            drawn = false;
        }

        var review = new MatchReview
        {
            DecisionId = decision.Id,
            ReservationId = decision.ReservationId,
            Ruling = ruling,
            Reason = reason,
            RuledBy = officer,
            RuledAt = now,
            RulingDecisionId = filed.Id,
        };
        db.MatchReviews.Add(review);
        // Ordering files screenings under the reservation's id; a decision filed under anything else has no saga to tell.
        if (Guid.TryParse(decision.ReservationId, out var reservationId))
        {
            await publishEndpoint.Publish(ToEvent(reservationId, filed, drawn), cancellationToken);
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new RulingResult.Ruled(review, filed);
    }

    /// <summary>
    /// An officer's clearance of a decision's potential matches, as screening takes it: for each party name and the entry
    /// it resembled, filed under the reviewed decision's id.
    /// </summary>
    public static IEnumerable<PartyClearance> Clearances(DecisionEvidence evidence, Guid decisionId, string reason, string officer, DateTimeOffset at) =>
        evidence.Matches
            .Where(match => match.Potential && !match.Cleared)
            .Select(match => new PartyClearance
            {
                Id = decisionId,
                PartyName = match.QueriedName,
                CanonicalName = PartyNameNormalizer.Canonical(match.QueriedName),
                EntryId = match.EntryId,
                Reason = reason,
                ClearedBy = officer,
                ClearedAt = at,
            });

    // The officer found the resemblance to be the listed party: the same evidence, denied. The officer's own words stay
    // in the review record, out of the reasons a calling service is given.
    private static ScreeningDecision Denial(ScreeningDecision underReview, DateTimeOffset now)
    {
        var evidence = underReview.Evidence;
        var id = Guid.CreateVersion7(now);
        var confirmed = $"a compliance officer confirmed the potential match of decision {underReview.Id} as a match (the ruling is on the review desk's record)";
        return new ScreeningDecision
        {
            Id = id,
            ReservationId = underReview.ReservationId,
            BuyerId = underReview.BuyerId,
            DecidedAt = now,
            Outcome = nameof(Verdict.Denied),
            RuleSetVersion = underReview.RuleSetVersion,
            ListVersion = underReview.ListVersion,
            EarliestCutoff = underReview.EarliestCutoff,
            Evidence = evidence with
            {
                Outcome = Verdict.Denied,
                DecidedAt = now,
                Lines = [.. evidence.Lines.Select(line => line with { Outcome = Verdict.Denied, Reasons = [.. line.Reasons, "denied with the reservation (see its reasons)"] })],
                Reasons = [confirmed, .. evidence.Matches.Where(match => match.Potential && !match.Cleared).Select(Screener.MatchReason)],
            },
        };
    }

    /// <summary>The ruling's decision as ordering's saga hears a screening (the same shape its screening activity publishes).</summary>
    private static ReservationScreened ToEvent(Guid reservationId, ScreeningDecision decision, bool licenceUnitsDrawn)
    {
        var evidence = decision.Evidence;
        return new ReservationScreened(
            reservationId,
            decision.Id.ToString(),
            ToContract(evidence.Outcome),
            decision.EarliestCutoff,
            [.. evidence.Lines.Select(line => new ScreenedLine(line.Sku, ToContract(line.Outcome), line.Cutoff, line.Reasons))],
            [.. Screener.ForCaller(evidence, decision.Id).Concat(evidence.Lines.SelectMany(line => line.Reasons.Select(reason => $"{line.Sku}: {reason}")))],
            licenceUnitsDrawn);
    }

    private static ScreeningOutcome ToContract(Verdict verdict) => verdict switch
    {
        Verdict.Approved => ScreeningOutcome.Approved,
        Verdict.LicenceRequired => ScreeningOutcome.LicenceRequired,
        Verdict.PotentialMatch => ScreeningOutcome.PotentialMatch,
        _ => ScreeningOutcome.Denied,
    };
}
