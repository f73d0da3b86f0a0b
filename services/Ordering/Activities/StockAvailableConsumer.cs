using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Activities;

/// <summary>
/// When inventory says a SKU has stock again, the reservations waiting for that SKU are asked to top up, oldest first
/// so the earliest buyers are served first, and only as many as the units announced can serve (<see cref="StockWake"/>).
/// Waking every waiting reservation on every rise made each rise cost a saga transaction and an inventory call per
/// waiting buyer, almost all of them finding nothing: beyond capacity that work grew with the queue and the system
/// collapsed under it.
/// </summary>
public sealed class StockAvailableConsumer(OrderingDbContext db, IOptions<OrderingOptions> options) : IConsumer<StockAvailable>
{
    /// <summary>The states a top-up wakes (AwaitingStock), as the saga declares them.</summary>
    private static readonly string[] WaitingForStock = [.. ReservationStates.Declared.WaitingForStock];

    public async Task Consume(ConsumeContext<StockAvailable> context)
    {
        var sku = context.Message.Sku;
        var waiting = await db.Database.SqlQuery<StockWake.Waiting>($"""
            SELECT s.reservation_id, s.passed_over_at, lacking.missing
            FROM reservation_sagas s,
            LATERAL (SELECT ((SELECT COALESCE(SUM((line->>'quantity')::bigint), 0) FROM jsonb_array_elements(s.lines) line WHERE line->>'sku' = {sku})
                           - (SELECT COALESCE(SUM((hold->>'quantity')::bigint), 0) FROM jsonb_array_elements(s.allocations) hold WHERE hold->>'sku' = {sku}))::bigint
                     AS missing) lacking
            WHERE s.current_state = ANY({WaitingForStock}) AND lacking.missing > 0
            ORDER BY s.submitted_at, s.reservation_id
            """).ToListAsync(context.CancellationToken);

        foreach (var reservation in StockWake.Choose(waiting, context.Message.Available, options.Value.PassedOverWokenPerStockAnnouncement))
        {
            await context.Publish(new TopUpReservation(reservation, sku));
        }
    }
}
