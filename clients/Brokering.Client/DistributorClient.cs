using System.Net.Http.Json;

namespace Brokering.Client;

/// <summary>A distributor's client for inventory's REST API: publishes its stock as snapshots and deltas.</summary>
/// <remarks>
/// Every update carries its sequence, and the service treats an update not newer than the last applied as a duplicate,
/// so an update whose answer was lost is sent again as it was: it is applied once.
/// </remarks>
public sealed class DistributorClient
{
    private readonly ApiConnection api;
    private readonly string distributorId;

    /// <summary>A client for <paramref name="distributorId"/> over <paramref name="http"/>, whose base address is the inventory service.</summary>
    /// <param name="http">The HTTP client; its base address is inventory's.</param>
    /// <param name="distributorId">The distributor the token may publish for.</param>
    /// <param name="tokens">Called before every attempt for the bearer token.</param>
    /// <param name="options">Retries; defaults when null.</param>
    public DistributorClient(HttpClient http, string distributorId, TokenSource tokens, BrokeringClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(http.BaseAddress, "http.BaseAddress");
        ArgumentException.ThrowIfNullOrWhiteSpace(distributorId);
        this.distributorId = distributorId;
        api = new ApiConnection(http, tokens, options ?? new BrokeringClientOptions());
    }

    /// <summary>Publishes one stock update.</summary>
    /// <param name="update">The update, with a sequence newer than the last one published.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>What became of it, with any refused items.</returns>
    /// <exception cref="BrokeringApiException">400 with field paths for an invalid update, 403 for another distributor's feed, 404 for an unknown distributor.</exception>
    public Task<StockUpdateResult> PublishAsync(StockUpdate update, CancellationToken cancellationToken = default) =>
        api.SendAsync<StockUpdateResult>(
            () => new HttpRequestMessage(HttpMethod.Post, $"v1/distributors/{Uri.EscapeDataString(distributorId)}/stock-feed")
            {
                Content = JsonContent.Create(
                    new { distributorId, update.Sequence, update.Kind, update.Items }, options: ApiConnection.Json),
            },
            RetrySafety.Idempotent,
            cancellationToken);

    /// <summary>Publishes the distributor's whole stock: anything not listed becomes zero.</summary>
    /// <param name="sequence">Newer than the last update published.</param>
    /// <param name="levels">Every stock level, each with quantity on hand, price and currency.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>What became of it.</returns>
    public Task<StockUpdateResult> PublishSnapshotAsync(long sequence, IReadOnlyList<StockLevel> levels, CancellationToken cancellationToken = default) =>
        PublishAsync(new StockUpdate(sequence, StockUpdateKind.Snapshot, levels), cancellationToken);

    /// <summary>Publishes changes to the listed stock levels only.</summary>
    /// <param name="sequence">Newer than the last update published.</param>
    /// <param name="changes">The levels that changed, each with its quantity change.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>What became of it.</returns>
    public Task<StockUpdateResult> PublishDeltaAsync(long sequence, IReadOnlyList<StockLevel> changes, CancellationToken cancellationToken = default) =>
        PublishAsync(new StockUpdate(sequence, StockUpdateKind.Delta, changes), cancellationToken);
}
