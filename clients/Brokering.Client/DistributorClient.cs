using System.Globalization;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using Brokering.Client.Webhooks;

namespace Brokering.Client;

/// <summary>
/// A distributor's client for inventory's REST API: publishes its stock as snapshots and deltas, reads its holds and
/// orders, and manages its webhook subscriptions. What it reads is the token's distributor's own.
/// </summary>
/// <remarks>
/// Every update carries its sequence, and the service treats an update not newer than the last applied as a duplicate,
/// so an update whose answer was lost is sent again as it was: it is applied once. Reads are retried like any safe
/// request.
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
        Webhooks = new WebhookSubscriptions(api, "v1/distributor/webhooks/subscriptions");
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

    /// <summary>
    /// The distributor's webhook subscriptions (<c>/v1/distributor/webhooks/subscriptions</c>): holds placed, committed,
    /// released and expired, and order notices, about its own stock only (see <see cref="DistributorWebhookEvents"/>).
    /// </summary>
    public WebhookSubscriptions Webhooks { get; }

    /// <summary>One page of the distributor's holds (the token's distributor), oldest first.</summary>
    /// <param name="filter">Which holds; all when null.</param>
    /// <param name="cursor">A page's <see cref="DistributorHoldPage.Next"/> for the page after it; null for the first.</param>
    /// <param name="limit">1 to 200 a page; the service's default (50) when null.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The page.</returns>
    /// <exception cref="BrokeringApiException">400 naming the bad parameter (<c>status</c>, <c>sku</c>, <c>since</c>, <c>limit</c>, <c>cursor</c>).</exception>
    public Task<DistributorHoldPage> ListHoldsAsync(
        DistributorListFilter? filter = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var path = ListPath("v1/distributor/holds", filter, cursor, limit);
        return api.SendAsync<DistributorHoldPage>(() => new HttpRequestMessage(HttpMethod.Get, path), RetrySafety.Idempotent, cancellationToken);
    }

    /// <summary>One page of the distributor's orders (the token's distributor), oldest first.</summary>
    /// <param name="filter">Which orders (<see cref="DistributorListFilter.Statuses"/> does not apply); all when null.</param>
    /// <param name="cursor">A page's <see cref="DistributorOrderPage.Next"/> for the page after it; null for the first.</param>
    /// <param name="limit">1 to 200 a page; the service's default (50) when null.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The page.</returns>
    /// <exception cref="BrokeringApiException">400 naming the bad parameter.</exception>
    public Task<DistributorOrderPage> ListOrdersAsync(
        DistributorListFilter? filter = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        if (filter?.Statuses is { Count: > 0 })
        {
            throw new ArgumentException("Orders are not filtered by status; the holds list is.", nameof(filter));
        }

        var path = ListPath("v1/distributor/orders", filter, cursor, limit);
        return api.SendAsync<DistributorOrderPage>(() => new HttpRequestMessage(HttpMethod.Get, path), RetrySafety.Idempotent, cancellationToken);
    }

    /// <summary>Every hold matching <paramref name="filter"/>, oldest first, reading page after page.</summary>
    /// <param name="filter">Which holds; all when null.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The holds.</returns>
    public async IAsyncEnumerable<DistributorHold> ListAllHoldsAsync(
        DistributorListFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListHoldsAsync(filter, cursor, limit: 200, cancellationToken);
            foreach (var hold in page.Holds)
            {
                yield return hold;
            }

            cursor = page.Next;
        }
        while (cursor is not null);
    }

    /// <summary>Every order matching <paramref name="filter"/>, oldest first, reading page after page.</summary>
    /// <param name="filter">Which orders; all when null.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The orders.</returns>
    public async IAsyncEnumerable<DistributorOrder> ListAllOrdersAsync(
        DistributorListFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListOrdersAsync(filter, cursor, limit: 200, cancellationToken);
            foreach (var order in page.Orders)
            {
                yield return order;
            }

            cursor = page.Next;
        }
        while (cursor is not null);
    }

    private static string ListPath(string root, DistributorListFilter? filter, string? cursor, int? limit)
    {
        var query = new List<string>();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                query.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }

        foreach (var status in filter?.Statuses ?? [])
        {
            Add("status", status);
        }

        Add("sku", filter?.Sku);
        Add("since", filter?.Since?.ToString("O", CultureInfo.InvariantCulture));
        Add("limit", limit?.ToString(CultureInfo.InvariantCulture));
        Add("cursor", cursor);
        return query.Count == 0 ? root : root + "?" + string.Join('&', query);
    }
}
