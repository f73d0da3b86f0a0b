using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// When inventory says a SKU has stock again, every reservation waiting for that SKU is asked to
/// top up, oldest first so the earliest buyers are served first.
/// </summary>
public sealed class StockAvailableConsumer(OrderingDbContext db) : IConsumer<StockAvailable>
{
    public async Task Consume(ConsumeContext<StockAvailable> context)
    {
        var sku = context.Message.Sku;
        var waiting = await db.Database.SqlQuery<Guid>($"""
            SELECT s.reservation_id AS "Value"
            FROM reservation_sagas s
            WHERE s.current_state = 'AwaitingStock'
              AND EXISTS (SELECT 1 FROM jsonb_array_elements(s.lines) line WHERE line->>'sku' = {sku})
            ORDER BY s.submitted_at
            """).ToListAsync(context.CancellationToken);

        foreach (var reservation in waiting)
        {
            await context.Publish(new TopUpReservation(reservation, sku));
        }
    }
}
