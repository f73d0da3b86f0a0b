using System.Globalization;
using System.Runtime.CompilerServices;
using Brokering.Ordering.Data;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Ops;

// The console's overview: how many sagas are in each state, which are at risk of their cutoff, how fresh each
// distributor's stock is; asked once (GET /summary) or streamed as server-sent events whenever it changes.
public static partial class OpsApi
{
    private static async Task<Results<Ok<Summary>, ValidationProblem>> SummaryAsync(
        OrderingDbContext db, StateMachineDiagram diagram, StockFreshnessBoard board, TimeProvider clock, CancellationToken cancellationToken, int atRiskWithin = DefaultAtRiskMinutes)
    {
        if (AtRiskWithinRefusal(atRiskWithin) is { } refusal)
        {
            return refusal;
        }

        return TypedResults.Ok(await SummarizeAsync(db, diagram, board, clock, atRiskWithin, cancellationToken));
    }

    // The summary and its stream answer the same window the same way (the stream used to clamp it, so a typo streamed
    // a summary of another window than the one asked for, and said so only in its body).
    private static ValidationProblem? AtRiskWithinRefusal(int atRiskWithin) => atRiskWithin is < 0 or > MaxAtRiskMinutes
        ? TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["atRiskWithin"] = [$"Minutes, between 0 and {MaxAtRiskMinutes}."] })
        : null;

    /// <summary>
    /// Server-sent events: the summary now, then again whenever it changes (checked every second), and at
    /// least every 15 s so proxies keep the connection. Each viewer costs two small queries a second.
    /// </summary>
    private static Results<ServerSentEventsResult<Summary>, ValidationProblem> Stream(
        OrderingDbContext db, StateMachineDiagram diagram, StockFreshnessBoard board, TimeProvider clock, IHostApplicationLifetime lifetime,
        CancellationToken cancellationToken, int atRiskWithin = DefaultAtRiskMinutes) =>
        AtRiskWithinRefusal(atRiskWithin) is { } refusal
            ? refusal
            : TypedResults.ServerSentEvents(
                SummariesAsync(db, diagram, board, clock, atRiskWithin, cancellationToken, lifetime.ApplicationStopping), eventType: "summary");

    private static async IAsyncEnumerable<Summary> SummariesAsync(
        OrderingDbContext db, StateMachineDiagram diagram, StockFreshnessBoard board, TimeProvider clock, int atRiskWithin,
        [EnumeratorCancellation] CancellationToken requestAborted, CancellationToken stopping)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, stopping);
        using var timer = new PeriodicTimer(StreamInterval, clock);
        string? sent = null;
        var sentAt = DateTimeOffset.MinValue;
        while (!stop.IsCancellationRequested)
        {
            var summary = await TrySummarizeAsync(db, diagram, board, clock, atRiskWithin, stop.Token);
            if (summary is null)
            {
                yield break;
            }

            var fingerprint = Fingerprint(summary);
            if (fingerprint != sent || summary.At - sentAt >= StreamHeartbeat)
            {
                (sent, sentAt) = (fingerprint, summary.At);
                yield return summary;
            }

            if (!await TryWaitAsync(timer, stop.Token))
            {
                yield break;
            }
        }
    }

    private static async Task<Summary?> TrySummarizeAsync(OrderingDbContext db, StateMachineDiagram diagram, StockFreshnessBoard board, TimeProvider clock, int atRiskWithin, CancellationToken cancellationToken)
    {
        try
        {
            return await SummarizeAsync(db, diagram, board, clock, atRiskWithin, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task<bool> TryWaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<Summary> SummarizeAsync(OrderingDbContext db, StateMachineDiagram diagram, StockFreshnessBoard board, TimeProvider clock, int atRiskWithin, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var horizon = now.AddMinutes(atRiskWithin);
        var terminal = Ended;
        var counted = await db.Sagas.AsNoTracking().GroupBy(s => s.CurrentState)
            .Select(group => new { State = group.Key, Count = group.Count() })
            .ToDictionaryAsync(group => group.State, group => group.Count, cancellationToken);
        var counts = diagram.States.Where(s => s.Name != StateMachineDiagram.InitialState)
            .ToDictionary(s => s.Name, s => counted.GetValueOrDefault(s.Name), StringComparer.Ordinal);
        var nearest = await db.Sagas.AsNoTracking()
            .Where(s => s.Cutoff != null && !terminal.Contains(s.CurrentState))
            .OrderBy(s => s.Cutoff).ThenBy(s => s.CorrelationId)
            .Take(NearestCutoffs).ToListAsync(cancellationToken);
        var atRisk = nearest.Count(s => s.Cutoff <= horizon) < NearestCutoffs
            ? nearest.Count(s => s.Cutoff <= horizon)
            : await db.Sagas.AsNoTracking().CountAsync(s => s.Cutoff != null && s.Cutoff <= horizon && !terminal.Contains(s.CurrentState), cancellationToken);
        var inFlight = counts.Where(c => !States.Terminal.Contains(c.Key)).Sum(c => c.Value);
        var freshness = await board.CurrentAsync(cancellationToken);
        return new Summary(counts, inFlight, atRisk, atRiskWithin, nearest.FirstOrDefault()?.Cutoff, [.. nearest.Select(s => Row(s, now))], freshness, now);
    }

    // What the stream compares: everything but the clock-driven fields (the console counts down by itself).
    private static string Fingerprint(Summary summary) => string.Join('|',
        string.Join(',', summary.CountsByState.Select(c => $"{c.Key}={c.Value}")),
        summary.AtRisk.ToString(CultureInfo.InvariantCulture),
        string.Join(',', summary.NearestCutoffs.Select(r => $"{r.Id}:{r.State}:{r.Cutoff:O}:{r.UnitsAllocated}:{r.UpdatedAt:O}")),
        summary.StockFreshness.Unavailable,
        string.Join(',', summary.StockFreshness.Distributors.Select(d => $"{d.DistributorId}:{d.LastFeedAt:O}:{d.Stale}:{d.GapOpen}")));
}
