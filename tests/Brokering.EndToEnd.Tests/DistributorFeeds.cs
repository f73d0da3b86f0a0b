using System.Net;
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
    public static Task PublishSnapshotAsync(
        this BrokeringSystem system, string distributorId, long sequence, string sku, string warehouse, long quantityOnHand,
        decimal unitPrice, CancellationToken cancellationToken) =>
        system.Scramble().PublishSnapshotAsync(distributorId, sequence, sku, warehouse, quantityOnHand, unitPrice, cancellationToken);

    /// <summary>The same through <paramref name="driver"/>, whose clients carry the distributor's token.</summary>
    public static async Task PublishSnapshotAsync(
        this ScrambleDriver driver, string distributorId, long sequence, string sku, string warehouse, long quantityOnHand,
        decimal unitPrice, CancellationToken cancellationToken) =>
        await driver.PublishAppliedAsync(distributorId, sequence, "Snapshot", [ScrambleDriver.OnHand(sku, warehouse, quantityOnHand, unitPrice)], cancellationToken);

    /// <summary>Publishes one feed update and expects it applied whole: 200 OK, outcome Applied, no item refused.</summary>
    public static async Task PublishAppliedAsync(
        this ScrambleDriver driver, string distributorId, long sequence, string kind, object[] items, CancellationToken cancellationToken)
    {
        var answer = await driver.PublishStockAsync(distributorId, sequence, kind, items, cancellationToken);
        answer.Status.ShouldBe(HttpStatusCode.OK, answer.Body);
        var result = answer.Json();
        result.GetProperty("outcome").GetString().ShouldBe("Applied", answer.Body);
        result.GetProperty("itemErrors").GetArrayLength().ShouldBe(0, answer.Body);
    }
}
