using Brokering.Compliance.Buyers;
using Brokering.Compliance.Data;
using Brokering.Compliance.Decisions;
using Brokering.Compliance.Licences;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.Reviews;
using Brokering.Compliance.RuleSets;
using Brokering.Messaging.Postgres;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Compliance.Screening;

/// <summary>
/// Screens a reservation and files the decision: loads what <see cref="Screener"/> reads, locks the
/// buyer's licences for the destination (so two screenings cannot both spend the last units), and
/// stores the decision with its evidence and the licence drawdowns, and judges an approval for the commit gate
/// (<see cref="DecisionVoucher"/>), all in one transaction: one BEGIN and COMMIT per screening where each read was its
/// own transaction before.
/// </summary>
internal sealed class ScreeningService(
    ComplianceDbContext db,
    ReferenceDataCache cache,
    DecisionVoucher voucher,
    TimeProvider time,
    IOptionsMonitor<ComplianceOptions> options)
{
    public async Task<ScreeningFiled> ScreenAsync(ScreeningInput input, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(input.ReservationId))
        {
            throw new ArgumentException("reservation_id is required: decisions are filed under it.", nameof(input));
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // A failed save fails the screening whole (rolled back, the caller asks again), so EF's savepoint around each save
        // in this transaction would be two statements for nothing.
        db.Database.AutoSavepointsEnabled = false;
        var filed = await FileAsync(input, null, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return filed;
    }

    /// <summary>
    /// Screens and files the decision within the caller's transaction (which must be open), the same as
    /// <see cref="ScreenAsync"/>: for the review desk, which files an officer's ruling with the decision it leads to.
    /// <paramref name="reviewClearances"/> set aside potential matches an officer cleared (see <see cref="ScreeningContext"/>).
    /// </summary>
    public async Task<ScreeningFiled> FileAsync(ScreeningInput input, IReadOnlyList<PartyClearance>? reviewClearances, CancellationToken cancellationToken)
    {
        var (snapshot, buyer) = await cache.GetAsync(db, input.BuyerId, cancellationToken);
        var (evidence, ledger, now) = await JudgeAsync(input, snapshot, snapshot.Current, buyer, reviewClearances, lockLicences: true, cancellationToken);
        var decision = new ScreeningDecision
        {
            Id = Guid.CreateVersion7(now),
            ReservationId = input.ReservationId,
            BuyerId = input.BuyerId ?? string.Empty,
            DecidedAt = now,
            Outcome = evidence.Outcome.ToString(),
            RuleSetVersion = evidence.RuleSet?.Version,
            ListVersion = evidence.List?.Version,
            EarliestCutoff = evidence.Lines.Where(line => line.Cutoff is not null).Min(line => line.Cutoff),
            Evidence = evidence,
        };
        db.ScreeningDecisions.Add(decision);
        var drawn = !ledger.IsEmpty && await RecordDrawdownsAsync(input.ReservationId, decision, ledger, evidence.Outcome, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        // Judged after the decision is written, in the same transaction: each of the voucher's reads sees every rule set
        // or list change committed before it, as a VouchForDecision call right after this screening would.
        var vouch = evidence.Outcome == Verdict.Approved ? await voucher.VouchForFreshAsync(decision, cancellationToken) : null;
        return new ScreeningFiled(decision, drawn, vouch);
    }

    /// <summary>
    /// What screening <paramref name="input"/> under <paramref name="ruleSet"/> would decide now, filing nothing and drawing no
    /// licence: a rule set's dry run. Everything else (list, products, buyer registry, clearances, licences) as it stands.
    /// </summary>
    public async Task<DecisionEvidence> WouldDecideAsync(ScreeningInput input, ReferenceSnapshot snapshot, RuleSet ruleSet, CancellationToken cancellationToken)
    {
        var buyer = await BuyersApi.CurrentAsync(db, input.BuyerId, cancellationToken);
        return (await JudgeAsync(input, snapshot, ruleSet, buyer, null, lockLicences: false, cancellationToken)).Evidence;
    }

    // buyer: the buyer's current registration as read with the snapshot (null: it has none).
    private async Task<(DecisionEvidence Evidence, LicenceLedger Ledger, DateTimeOffset Now)> JudgeAsync(
        ScreeningInput input, ReferenceSnapshot snapshot, RuleSet? ruleSet, BuyerRegistration? buyer, IReadOnlyList<PartyClearance>? reviewClearances,
        bool lockLicences, CancellationToken cancellationToken)
    {
        var partyNames = new[] { input.EndUser?.Name, input.BuyerParent?.Name, buyer?.LegalName, buyer?.ParentName }
            .Where(name => !string.IsNullOrWhiteSpace(name))
            .Select(name => PartyNameNormalizer.Canonical(name!))
            .ToList();
        var clearances = partyNames.Count == 0
            ? []
            : await db.PartyClearances.AsNoTracking().Where(clearance => partyNames.Contains(clearance.CanonicalName)).ToListAsync(cancellationToken);

        var now = time.GetUtcNow();
        var ledger = await LoadLedgerAsync(input, now, lockLicences, cancellationToken);
        var reviewed = await ReviewClearancesAsync(input.ReservationId, cancellationToken);
        if (reviewClearances is not null)
        {
            reviewed.AddRange(reviewClearances);
        }

        var evidence = Screener.Screen(input, new ScreeningContext(
            now,
            ruleSet,
            snapshot.Groups,
            snapshot.Products,
            snapshot.List,
            snapshot.Matcher,
            options.CurrentValue.RestrictedPartyListMaxAge,
            clearances,
            ledger,
            buyer,
            reviewed,
            options.CurrentValue.UnregisteredBuyers));
        return (evidence, ledger, now);
    }

    /// <summary>
    /// The potential matches an officer cleared for this reservation, as clearances: a later screening of the same
    /// reservation (a rule change, the commit gate's) must not send it back to review for the resemblance already ruled a
    /// false positive. They clear only in the review band (see <see cref="ScreeningContext"/>), and only this reservation.
    /// </summary>
    private async Task<List<PartyClearance>> ReviewClearancesAsync(string reservationId, CancellationToken cancellationToken)
    {
        var cleared = await db.MatchReviews.AsNoTracking()
            .Where(review => review.ReservationId == reservationId && review.Ruling == ReviewRuling.Cleared)
            .Join(db.ScreeningDecisions, review => review.DecisionId, decision => decision.Id, (review, decision) => new { review, decision.Evidence })
            .ToListAsync(cancellationToken);
        return [.. cleared.SelectMany(ruled => ReviewDesk.Clearances(ruled.Evidence, ruled.review.DecisionId, ruled.review.Reason, ruled.review.RuledBy, ruled.review.RuledAt))];
    }

    private async Task<LicenceLedger> LoadLedgerAsync(ScreeningInput input, DateTimeOffset now, bool lockLicences, CancellationToken cancellationToken)
    {
        var destination = Screener.NormalizeCountry(input.DestinationCountry);
        if (string.IsNullOrWhiteSpace(input.BuyerId) || destination is null)
        {
            return LicenceLedger.Empty;
        }

        // The end user's country may govern a line instead of the destination (see Screener), so its licences count too.
        var countries = new[] { destination, Screener.NormalizeCountry(input.EndUser?.Country) ?? destination }.Distinct().ToArray();
        // Row locks until commit when filing: a concurrent screening on the same licences waits, then sees these
        // drawdowns. A dry run only reads: it draws nothing. LINQ, not FromSql, so EF generates the statement once
        // (RowLockInterceptor: a FromSql with parameters is generated again on every execution, under a shared lock).
        var buyer = input.BuyerId!;
        var current = db.Licences
            .Where(licence => licence.BuyerId == buyer && countries.Contains(licence.DestinationCountry) && licence.ValidFrom <= now && licence.ValidUntil > now)
            .OrderBy(licence => licence.Id);
        var licences = await (lockLicences ? current.ForUpdate(db) : current)
            .AsNoTracking()
            .ToListAsync(cancellationToken);
        if (licences.Count == 0)
        {
            return LicenceLedger.Empty;
        }

        var ids = licences.Select(licence => licence.Id).ToList();
        var drawnByOthers = await db.LicenceDrawdowns
            .Where(drawdown => ids.Contains(drawdown.LicenceId) && drawdown.ReservationId != input.ReservationId)
            .GroupBy(drawdown => drawdown.LicenceId)
            .Select(group => new { LicenceId = group.Key, Quantity = group.Sum(drawdown => drawdown.Quantity) })
            .ToDictionaryAsync(group => group.LicenceId, group => group.Quantity, cancellationToken);
        return new LicenceLedger(licences, drawnByOthers);
    }

    // A reservation's drawdowns are what its latest screening drew: screening it again replaces them. True when this
    // screening drew any.
    private async Task<bool> RecordDrawdownsAsync(
        string reservationId, ScreeningDecision decision, LicenceLedger ledger, Verdict outcome, CancellationToken cancellationToken)
    {
        var existing = await db.LicenceDrawdowns.Where(drawdown => drawdown.ReservationId == reservationId).ToListAsync(cancellationToken);
        // Only an approved reservation keeps licence units: one that is refused spends none.
        var granted = outcome != Verdict.Approved
            ? []
            : ledger.Granted
                .GroupBy(grant => (grant.Licence.Id, grant.Sku))
                .Select(group => (group.Key.Id, group.Key.Sku, Quantity: group.Sum(grant => grant.Quantity)))
                .ToList();

        foreach (var drawdown in existing)
        {
            var grant = granted.FirstOrDefault(candidate => candidate.Id == drawdown.LicenceId && candidate.Sku == drawdown.Sku);
            if (grant == default)
            {
                db.LicenceDrawdowns.Remove(drawdown);
            }
            else
            {
                drawdown.Quantity = grant.Quantity;
                drawdown.DecisionId = decision.Id;
                drawdown.DrawnAt = decision.DecidedAt;
            }
        }

        foreach (var grant in granted.Where(grant => !existing.Any(drawdown => drawdown.LicenceId == grant.Id && drawdown.Sku == grant.Sku)))
        {
            db.LicenceDrawdowns.Add(new LicenceDrawdown
            {
                LicenceId = grant.Id,
                ReservationId = reservationId,
                Sku = grant.Sku,
                Quantity = grant.Quantity,
                DecisionId = decision.Id,
                DrawnAt = decision.DecidedAt,
            });
        }

        return granted.Count > 0;
    }
}

/// <summary>
/// A screening as filed: the decision, whether it set licence units aside for the reservation, and for an approval the
/// commit gate's answer given with it (null otherwise).
/// </summary>
internal sealed record ScreeningFiled(ScreeningDecision Decision, bool LicenceUnitsDrawn, Vouch? Vouch);
