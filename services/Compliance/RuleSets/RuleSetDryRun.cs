using Brokering.Compliance.Data;
using Brokering.Compliance.Infrastructure;
using Brokering.Compliance.Screening;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Compliance.RuleSets;

/// <summary>Body of <c>POST /v1/rule-sets/dry-run</c>.</summary>
/// <param name="RuleSet">The rule set as it would be published (the body of <c>POST /v1/rule-sets</c>).</param>
/// <param name="Reservations">
/// The reservations to judge under it (none: the rule set is only validated): those in flight, which only ordering knows
/// (its console's review desk sends them). Each is judged on the parties, destination and lines of its latest screening
/// on file.
/// </param>
internal sealed record RuleSetDryRunRequest(PublishRuleSetRequest? RuleSet, IReadOnlyList<DryRunSubject?>? Reservations);

/// <summary>A reservation to judge.</summary>
/// <param name="ReservationId">The reservation id, as ordering files its screenings.</param>
/// <param name="Status">Where the reservation stands, as the caller knows it (echoed, for the reader).</param>
internal sealed record DryRunSubject(string? ReservationId, string? Status);

/// <summary>What publishing the rule set would do to the reservations judged. Nothing is filed, drawn or published.</summary>
/// <param name="RuleSet">The rule set judged, as it would be published.</param>
/// <param name="AsOf">The instant of the judgement: a cutoff at or before it has passed.</param>
/// <param name="Effects">How many reservations each effect concerns (every effect listed, zeros included).</param>
/// <param name="Reservations">Each reservation judged, those whose effect is not <c>Unchanged</c> first.</param>
internal sealed record RuleSetDryRunResponse(
    RuleSetResponse RuleSet, DateTimeOffset AsOf, IReadOnlyDictionary<string, int> Effects, IReadOnlyList<DryRunOutcome> Reservations);

/// <summary>One reservation under the rule set.</summary>
/// <param name="ReservationId">The reservation.</param>
/// <param name="Status">Where it stands, as the caller said.</param>
/// <param name="Effect">
/// <c>Refused</c> (screening would no longer approve it: a licence now needed, a denial), <c>CutoffPassed</c> (its
/// cutoff would already have passed: it would end CutoffMissed), <c>CutoffEarlier</c>, <c>CutoffLater</c> (a later
/// cutoff takes effect when it is screened again), <c>Unchanged</c>, or <c>NotScreened</c> (no screening on file).
/// </param>
/// <param name="CurrentOutcome">The outcome of its latest screening on file.</param>
/// <param name="CurrentCutoff">Its cutoff under that screening.</param>
/// <param name="Outcome">What screening would decide under the rule set.</param>
/// <param name="Cutoff">The cutoff it would have.</param>
/// <param name="Reasons">Why, as the decision would state it (officers' evidence: the full reasons).</param>
internal sealed record DryRunOutcome(
    string ReservationId, string? Status, string Effect, string? CurrentOutcome, DateTimeOffset? CurrentCutoff, string? Outcome,
    DateTimeOffset? Cutoff, IReadOnlyList<string> Reasons);

/// <summary>
/// A rule set judged before it is published: what it would do to the reservations in flight. Each is screened again as
/// the commit gate or a re-screen would screen it (same parties, list, registry, clearances and licences, this rule
/// set instead of the current one) and compared with its latest decision on file.
/// </summary>
internal static class RuleSetDryRun
{
    /// <summary>Most reservations one dry run judges: each costs a screening's reads.</summary>
    public const int MaxReservations = 2_000;

    public static readonly string[] Effects = ["Refused", "CutoffPassed", "CutoffEarlier", "CutoffLater", "Unchanged", "NotScreened"];

    private const int MaxReservationIdLength = 64;
    private const int MaxStatusLength = 32;

    public static async Task<Results<Ok<RuleSetDryRunResponse>, ValidationProblem>> RunAsync(
        RuleSetDryRunRequest request, HttpContext http, ComplianceDbContext db, ReferenceDataCache cache, ScreeningService screening,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var snapshot = await cache.GetAsync(db, cancellationToken);
        var errors = new ValidationErrors();
        var subjects = ReadSubjects(request.Reservations, errors);
        RuleSet? draft = null;
        if (request.RuleSet is null)
        {
            errors.Add("ruleSet", "The rule set to judge is required (the body POST /v1/rule-sets would take).");
        }
        else
        {
            draft = RuleSetsApi.ReadDraft(request.RuleSet, snapshot, http, errors.Under("ruleSet"));
        }

        if (errors.Any || draft is null)
        {
            return errors.Problem();
        }

        var now = time.GetUtcNow();
        // Judged as if published now, after every rule set published so far.
        var candidate = new RuleSet
        {
            Version = draft.Version,
            EffectiveAt = draft.EffectiveAt,
            PublishedAt = now,
            PublishedBy = draft.PublishedBy,
            Sequence = (snapshot.Current?.Sequence ?? 0) + 1,
            Description = draft.Description,
            Source = draft.Source,
            BasedOn = draft.BasedOn,
            Definition = draft.Definition,
        };

        var ids = subjects.Select(subject => subject.ReservationId).ToList();
        var latest = (await db.ScreeningDecisions.AsNoTracking()
                .Where(decision => ids.Contains(decision.ReservationId))
                .ToListAsync(cancellationToken))
            .GroupBy(decision => decision.ReservationId, StringComparer.Ordinal)
            .ToDictionary(group => group.Key, group => group.MaxBy(decision => decision.DecidedAt)!, StringComparer.Ordinal);

        var outcomes = new List<DryRunOutcome>(subjects.Count);
        foreach (var subject in subjects)
        {
            if (!latest.TryGetValue(subject.ReservationId, out var current))
            {
                outcomes.Add(new DryRunOutcome(subject.ReservationId, subject.Status, "NotScreened", null, null, null, null, []));
                continue;
            }

            var evidence = await screening.WouldDecideAsync(current.Evidence.Inputs, snapshot, candidate, cancellationToken);
            var cutoff = evidence.Lines.Where(line => line.Cutoff is not null).Min(line => line.Cutoff);
            outcomes.Add(new DryRunOutcome(
                subject.ReservationId, subject.Status, EffectOf(current.Outcome, current.EarliestCutoff, evidence.Outcome, cutoff, now),
                current.Outcome, current.EarliestCutoff, evidence.Outcome.ToString(), cutoff, evidence.Reasons));
        }

        var counts = Effects.ToDictionary(effect => effect, effect => outcomes.Count(outcome => outcome.Effect == effect), StringComparer.Ordinal);
        var ordered = outcomes.OrderBy(outcome => Array.IndexOf(Effects, outcome.Effect)).ThenBy(outcome => outcome.ReservationId, StringComparer.Ordinal).ToList();
        return TypedResults.Ok(new RuleSetDryRunResponse(RuleSetResponse.From(candidate), now, counts, ordered));
    }

    /// <summary>
    /// What the saga would make of the new answer, compared with the decision it holds: a refusal ends it (a licence
    /// required once the cutoff has passed is a missed cutoff, as the saga treats it), a cutoff in the past ends it
    /// CutoffMissed, an earlier one binds at once, a later one once screened again.
    /// </summary>
    internal static string EffectOf(string currentOutcome, DateTimeOffset? currentCutoff, Verdict outcome, DateTimeOffset? cutoff, DateTimeOffset now)
    {
        if (cutoff <= now && outcome is Verdict.Approved or Verdict.LicenceRequired)
        {
            return "CutoffPassed";
        }

        if (outcome != Verdict.Approved && currentOutcome == nameof(Verdict.Approved))
        {
            return "Refused";
        }

        if (cutoff == currentCutoff)
        {
            return "Unchanged";
        }

        return cutoff is not null && (currentCutoff is null || cutoff < currentCutoff) ? "CutoffEarlier" : "CutoffLater";
    }

    private static List<(string ReservationId, string? Status)> ReadSubjects(IReadOnlyList<DryRunSubject?>? reservations, ValidationErrors errors)
    {
        var subjects = new List<(string, string?)>();
        if (reservations is null)
        {
            errors.Add("reservations", "The reservations to judge are required, if none (the review desk sends those in flight).");
            return subjects;
        }

        if (reservations.Count > MaxReservations)
        {
            errors.Add("reservations", $"At most {MaxReservations} reservations in one dry run.");
            return subjects;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < reservations.Count; i++)
        {
            var subject = reservations[i];
            var id = errors.Text($"reservations[{i}].reservationId", subject?.ReservationId, MaxReservationIdLength);
            var status = errors.Text($"reservations[{i}].status", subject?.Status, MaxStatusLength, required: false);
            if (id is not null && id.Any(char.IsControl))
            {
                errors.Add($"reservations[{i}].reservationId", "Control characters are not allowed.");
            }
            else if (id is not null && seen.Add(id))
            {
                subjects.Add((id, status));
            }
        }

        return subjects;
    }
}
