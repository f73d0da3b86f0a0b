using Brokering.Contracts.Grpc.Inventory;
using Grpc.Core;

namespace Brokering.Ordering.Ops;

/// <summary>One distributor's feed as inventory last reported it.</summary>
/// <param name="DistributorId">The distributor.</param>
/// <param name="Name">Its display name.</param>
/// <param name="LastSequence">Sequence of the last applied update (0 before the first).</param>
/// <param name="LastFeedAt">When inventory last applied an update of its feed; null before the first.</param>
/// <param name="AgeSeconds">Seconds from <paramref name="LastFeedAt"/> to inventory's answer; null before the first.</param>
/// <param name="Stale">Inventory no longer offers or holds this distributor's stock (no feed within its stale threshold).</param>
/// <param name="GapOpen">A delta skipped sequences and no snapshot has healed it yet.</param>
public sealed record DistributorFreshness(
    string DistributorId, string Name, long LastSequence, DateTimeOffset? LastFeedAt, double? AgeSeconds, bool Stale, bool GapOpen);

/// <summary>Stock freshness per distributor, for the ops overview.</summary>
/// <param name="AsOf">Inventory's clock when it answered; null while inventory has never answered.</param>
/// <param name="StaleAfterSeconds">Inventory's threshold (<c>Inventory:StaleAfter</c>): a feed older than this is stale.</param>
/// <param name="Distributors">Every registered distributor, by id.</param>
/// <param name="Unavailable">Why the figures are not current (inventory unreachable), or null when they are.</param>
public sealed record StockFreshness(DateTimeOffset? AsOf, double? StaleAfterSeconds, IReadOnlyList<DistributorFreshness> Distributors, string? Unavailable);

/// <summary>
/// Inventory owns the feeds, so ordering asks it (gRPC <c>HoldsLedger/GetFeedFreshness</c>, with the
/// service identity) rather than keeping a copy. The answer is reused for <see cref="RefreshEvery"/>, so
/// however many consoles watch the live summary, inventory is asked at most that often per replica; and
/// it is asked only while someone looks.
/// </summary>
public sealed class StockFreshnessBoard(IServiceScopeFactory scopes, TimeProvider clock, ILogger<StockFreshnessBoard> logger) : IDisposable
{
    public static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(3);

    private readonly SemaphoreSlim refreshing = new(1, 1);
    private StockFreshness current = new(null, null, [], "Not asked yet.");
    private DateTimeOffset checkedAt = DateTimeOffset.MinValue;

    public async Task<StockFreshness> CurrentAsync(CancellationToken cancellationToken)
    {
        if (clock.GetUtcNow() - checkedAt < RefreshEvery)
        {
            return current;
        }

        // One refresh at a time; whoever comes meanwhile gets the last answer rather than a queue.
        if (!await refreshing.WaitAsync(0, cancellationToken))
        {
            return current;
        }

        try
        {
            current = await AskAsync(cancellationToken);
            checkedAt = clock.GetUtcNow();
            return current;
        }
        finally
        {
            refreshing.Release();
        }
    }

    public void Dispose() => refreshing.Dispose();

    private async Task<StockFreshness> AskAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var scope = scopes.CreateScope();
            var inventory = scope.ServiceProvider.GetRequiredService<HoldsLedger.HoldsLedgerClient>();
            var answer = await inventory.GetFeedFreshnessAsync(new GetFeedFreshnessRequest(),
                deadline: DateTime.UtcNow + Deadline, cancellationToken: cancellationToken);
            var asOf = answer.AsOf.ToDateTimeOffset();
            if (current.Unavailable is not null && current.AsOf is not null)
            {
                logger.LogInformation("Inventory answers feed freshness again");
            }

            return new StockFreshness(asOf, answer.StaleAfter?.ToTimeSpan().TotalSeconds, [.. answer.Distributors.Select(d =>
            {
                DateTimeOffset? last = d.LastFeedAt?.ToDateTimeOffset();
                return new DistributorFreshness(d.DistributorId, d.Name, d.LastSequence, last,
                    last is { } at ? Math.Round(Math.Max(0, (asOf - at).TotalSeconds), 1) : null, d.Stale, d.GapOpen);
            })], null);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            if (current.Unavailable is null)
            {
                logger.LogWarning("Inventory did not answer feed freshness ({Status}: {Detail}); the console shows the last answer as not current",
                    e.StatusCode, e.Status.Detail);
            }

            // Keep what was last known (operators still see which feeds were stale), marked as not current.
            return current with { Unavailable = $"Inventory did not answer ({e.StatusCode})." };
        }
    }
}
