using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Brokering.Compliance.Data;
using Brokering.Compliance.Infrastructure;
using Brokering.ServiceDefaults.Paging;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Compliance.Decisions;

/// <summary>One decision as the search lists it: what was decided, under which rules, and why; the evidence is one
/// <c>GET /v1/decisions/{reservationId}</c> away.</summary>
internal sealed record DecisionSummary(
    Guid Id,
    string ReservationId,
    string BuyerId,
    DateTimeOffset DecidedAt,
    string Outcome,
    string? RuleSetVersion,
    string? ListVersion,
    DateTimeOffset? EarliestCutoff,
    IReadOnlyList<string> Reasons)
{
    public static DecisionSummary From(ScreeningDecision decision) => new(
        decision.Id, decision.ReservationId, decision.BuyerId, decision.DecidedAt, decision.Outcome, decision.RuleSetVersion,
        decision.ListVersion, decision.EarliestCutoff, decision.Evidence.Reasons);
}

/// <summary>A page of the search, newest first; <see cref="Next"/> reads on, null at the end.</summary>
internal sealed record DecisionPage(IReadOnlyList<DecisionSummary> Decisions, string? Next);

/// <summary>What an officer searches decisions by; every part optional.</summary>
internal sealed record DecisionFilter(string? Outcome, string? BuyerId, string? RuleSetVersion, DateTimeOffset? From, DateTimeOffset? To)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    private static readonly string[] Outcomes = ["Approved", "Denied", "LicenceRequired", "PotentialMatch"];

    /// <summary>Reads the query's filters, naming each bad one; <paramref name="errors"/> says whether any was.</summary>
    public static DecisionFilter Read(
        string? outcome, string? buyerId, string? ruleSetVersion, string? from, string? to, ValidationErrors errors)
    {
        if (outcome is not null && !Outcomes.Contains(outcome, StringComparer.Ordinal))
        {
            errors.Add("outcome", $"'{outcome}' is not an outcome; one of {string.Join(", ", Outcomes)}.");
        }

        if (buyerId is { Length: > 100 })
        {
            errors.Add("buyerId", "A buyer id is at most 100 characters.");
        }

        if (ruleSetVersion is { Length: > 100 })
        {
            errors.Add("ruleSetVersion", "A rule set version is at most 100 characters.");
        }

        var since = Instant("from", from, errors);
        var until = Instant("to", to, errors);
        if (since is not null && until is not null && until < since)
        {
            errors.Add("to", "'to' is before 'from'.");
        }

        return new DecisionFilter(outcome, buyerId, ruleSetVersion, since, until);
    }

    /// <summary>The decisions that match, newest first, from just before <paramref name="after"/> when given.</summary>
    public IQueryable<ScreeningDecision> Apply(ComplianceDbContext db, DecisionCursor? after)
    {
        var decisions = after is { } cursor
            ? db.ScreeningDecisions.FromSql($"SELECT * FROM screening_decisions WHERE (decided_at, id) < ({cursor.At}, {cursor.Id})")
            : db.ScreeningDecisions;
        decisions = decisions.AsNoTracking();
        if (Outcome is not null)
        {
            decisions = decisions.Where(decision => decision.Outcome == Outcome);
        }

        if (BuyerId is not null)
        {
            decisions = decisions.Where(decision => decision.BuyerId == BuyerId);
        }

        if (RuleSetVersion is not null)
        {
            decisions = decisions.Where(decision => decision.RuleSetVersion == RuleSetVersion);
        }

        if (From is { } from)
        {
            decisions = decisions.Where(decision => decision.DecidedAt >= from);
        }

        if (To is { } to)
        {
            decisions = decisions.Where(decision => decision.DecidedAt < to);
        }

        return decisions.OrderByDescending(decision => decision.DecidedAt).ThenByDescending(decision => decision.Id);
    }

    private static DateTimeOffset? Instant(string field, string? text, ValidationErrors errors)
    {
        if (!PageParameters.TryReadInstant(text, out var instant))
        {
            errors.Add(field, $"'{text}' is not an ISO 8601 instant (e.g. 2023-10-17T00:00:00Z).");
        }

        return instant;
    }
}

/// <summary>
/// The search as CSV for a spreadsheet: RFC 4180 quoting, and a cell that a spreadsheet would run as a formula (it
/// starts with =, +, -, @, a tab or a carriage return: a party's name or a reason can) is prefixed with an apostrophe.
/// </summary>
internal static class DecisionCsv
{
    public const string Header = "id,reservationId,buyerId,decidedAt,outcome,ruleSetVersion,listVersion,earliestCutoff,reasons";

    public static async IAsyncEnumerable<string> LinesAsync(
        IAsyncEnumerable<ScreeningDecision> decisions, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return Header;
        await foreach (var decision in decisions.WithCancellation(cancellationToken))
        {
            yield return string.Join(',',
                Cell(decision.Id.ToString()), Cell(decision.ReservationId), Cell(decision.BuyerId), Cell(Instant(decision.DecidedAt)),
                Cell(decision.Outcome), Cell(decision.RuleSetVersion), Cell(decision.ListVersion),
                Cell(decision.EarliestCutoff is { } cutoff ? Instant(cutoff) : null), Cell(string.Join("; ", decision.Evidence.Reasons)));
        }
    }

    public static string Cell(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return string.Empty;
        }

        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            return value;
        }

        var quoted = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            quoted.Append(c == '"' ? "\"\"" : c.ToString());
        }

        return quoted.Append('"').ToString();
    }

    private static string Instant(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
