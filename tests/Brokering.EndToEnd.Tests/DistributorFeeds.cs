using System.Net.Http.Json;
using Brokering.Testing.Installation;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>Stock as distributors publish it through inventory's public REST feed.</summary>
public static class DistributorFeeds
{
    /// <summary>
    /// Publishes a snapshot of one SKU at one warehouse as <paramref name="distributorId"/> (with its own token) and
    /// expects it applied.
    /// </summary>
    public static async Task PublishSnapshotAsync(
        this BrokeringSystem system, string distributorId, long sequence, string sku, string warehouse, long quantityOnHand,
        decimal unitPrice, CancellationToken cancellationToken)
    {
        using var distributor = system.Distributor(distributorId);
        await distributor.PublishSnapshotAsync(distributorId, sequence, sku, warehouse, quantityOnHand, unitPrice, cancellationToken);
    }

    /// <summary>The same through <paramref name="distributor"/>, a client of inventory carrying the distributor's token.</summary>
    public static async Task PublishSnapshotAsync(
        this HttpClient distributor, string distributorId, long sequence, string sku, string warehouse, long quantityOnHand,
        decimal unitPrice, CancellationToken cancellationToken)
    {
        using var feed = await distributor.PostAsJsonAsync($"/v1/distributors/{distributorId}/stock-feed", new
        {
            distributorId,
            sequence,
            kind = "Snapshot",
            items = new[]
            {
                new { sku, warehouse, quantityOnHand, unitPrice, currency = "USD", leadTimeDays = 3, minimumOrderQuantity = 1 },
            },
        }, cancellationToken);
        feed.IsSuccessStatusCode.ShouldBeTrue(await feed.Content.ReadAsStringAsync(cancellationToken));
    }
}
