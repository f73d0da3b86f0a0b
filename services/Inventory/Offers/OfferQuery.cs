using System.Data;
using Brokering.Contracts;
using Brokering.Inventory.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Brokering.Inventory.Offers;

/// <summary>Units one distributor can hold in one warehouse now.</summary>
public sealed record OfferView(
    string DistributorId, string Warehouse, long Available, decimal UnitPrice, string Currency, int LeadTimeDays, long MinimumOrderQuantity, DateTimeOffset AsOf);

/// <summary>
/// Offers for a SKU: fresh distributors without an open feed gap only, cheapest first. A gapped distributor's levels
/// lack a change it reported (a delta still missing), so they are not offered until the gap closes; the distributors
/// API and GetFeedFreshness say so (<c>gapOpen</c>). A level no caller could use (a price beyond
/// <see cref="InputBounds.MaxUnitPrice"/>, stored before the feed refused such prices) is skipped and reported,
/// never thrown: one distributor's bad row must not hide every other distributor's stock from every buyer.
/// </summary>
internal sealed class OfferQuery(InventoryDbContext db, TimeProvider time, IOptions<InventoryOptions> options, InventoryMetrics metrics, ILogger<OfferQuery> logger)
{
    public async Task<IReadOnlyList<OfferView>> GetAsync(string sku, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        if (connection.State != ConnectionState.Open)
        {
            await db.Database.OpenConnectionAsync(cancellationToken);
        }

        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT s.distributor_id, s.warehouse, s.on_hand - s.held - s.committed AS available, s.unit_price, s.currency,
                   s.lead_time_days, s.minimum_order_quantity, d.last_feed_at
            FROM stock_levels s JOIN distributors d ON d.id = s.distributor_id
            WHERE s.sku = @sku AND d.last_feed_at > @freshAfter AND NOT d.gap_open
              AND s.on_hand - s.held - s.committed > 0
              AND s.on_hand - s.held - s.committed >= s.minimum_order_quantity
            ORDER BY s.unit_price, s.lead_time_days, available DESC, s.distributor_id, s.warehouse
            """;
        command.Parameters.AddWithValue("sku", Contracts.Sku.Normalize(sku) ?? sku.Trim());
        command.Parameters.AddWithValue("freshAfter", time.GetUtcNow() - options.Value.StaleAfter);
        var offers = new List<OfferView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var offer = new OfferView(
                reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetDecimal(3), reader.GetString(4),
                reader.GetInt32(5), reader.GetInt64(6), reader.GetFieldValue<DateTimeOffset>(7));
            if (!InputBounds.IsUnitPrice(offer.UnitPrice))
            {
                metrics.OfferSkipped(offer.DistributorId);
                logger.LogWarning(
                    "Offer of {Sku} by {DistributorId} in {Warehouse} skipped: its unit price {UnitPrice} is outside 0..{MaxUnitPrice}",
                    sku, offer.DistributorId, offer.Warehouse, offer.UnitPrice, InputBounds.MaxUnitPrice);
                continue;
            }

            offers.Add(offer);
        }

        return offers;
    }
}
