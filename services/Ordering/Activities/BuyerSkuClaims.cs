using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// The per-buyer cap on one SKU (<see cref="OrderingOptions.MaxUnitsPerBuyerPerSku"/>), race-free. Holds reach the
/// saga row only when inventory reports them, long after the plan that asked for them, so two plans of one buyer
/// for one SKU reading the saga rows side by side would each see the whole cap free. Instead every plan claims its
/// units in the planning transaction, under a transaction-scoped advisory lock per (buyer, SKU): the next plan waits
/// for the lock, and then sees the claim.
/// </summary>
/// <remarks>
/// What counts against the cap: the units held or committed in the buyer's reservations that are live or confirmed
/// (from their saga rows), plus the claims of plans still in flight (the reservation is Allocating that very plan
/// version). A claim whose plan has landed stops counting, its holds being on the saga row by then; one whose
/// reservation has ended stops counting with it, and is deleted by the next plan of that buyer and SKU.
/// </remarks>
public sealed class BuyerSkuClaims(OrderingDbContext db)
{
    /// <summary>First half of the two-key advisory lock ("cap" in ASCII), so it cannot meet another of ordering's locks.</summary>
    private const int LockSpace = 0x636170;

    /// <summary>
    /// Claims up to the line's units for plan <paramref name="planVersion"/> of the reservation and returns the part
    /// of the line the plan may hold. Must run in the transaction the plan commits
    /// in, which holds the lock until then. The same plan asking again is given what it was given the first time.
    /// </summary>
    public async Task<ReservationLine> ClaimAsync(
        string buyer, Guid reservationId, int planVersion, ReservationLine line, long cap, CancellationToken cancellationToken)
    {
        if (cap <= 0)
        {
            return line;
        }

        if (db.Database.CurrentTransaction is null)
        {
            throw new InvalidOperationException("A claim must be made in the transaction its plan commits in; none is open.");
        }

        var sku = line.Sku;
        var lockKey = $"{buyer}\u001f{sku}";
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockSpace}, hashtext({lockKey}))", cancellationToken);

        var existing = await db.BuyerSkuClaims.AsNoTracking()
            .Where(c => c.ReservationId == reservationId && c.Sku == sku && c.PlanVersion == planVersion)
            .Select(c => (long?)c.Units)
            .SingleOrDefaultAsync(cancellationToken);
        if (existing is { } units)
        {
            return line with { Quantity = units };
        }

        // Claims of reservations that ended are given back for good.
        await db.Database.ExecuteSqlAsync($"""
            DELETE FROM buyer_sku_claims c USING reservation_sagas s
            WHERE c.reservation_id = s.reservation_id AND c.buyer_id = {buyer} AND c.sku = {sku}
              AND s.current_state = ANY({ReservationStateMachine.TerminalStateNames})
            """, cancellationToken);

        var taken = await db.Database.SqlQuery<long>($"""
            SELECT COALESCE(SUM(units), 0)::bigint AS "Value" FROM (
                SELECT (hold->>'quantity')::bigint AS units
                FROM reservation_sagas s, jsonb_array_elements(s.allocations) hold
                WHERE s.buyer_id = {buyer} AND hold->>'sku' = {sku}
                  AND s.current_state IN ('Allocating', 'Held', 'AwaitingStock', 'Confirming', 'Confirmed')
                UNION ALL
                SELECT c.units
                FROM buyer_sku_claims c JOIN reservation_sagas s ON s.reservation_id = c.reservation_id
                WHERE c.buyer_id = {buyer} AND c.sku = {sku} AND c.reservation_id <> {reservationId}
                  AND s.current_state = 'Allocating' AND s.plan_version = c.plan_version
            ) counted
            """).SingleAsync(cancellationToken);

        var granted = AllocationPlanner.WithinBuyerCap(line, taken, cap);
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO buyer_sku_claims (reservation_id, sku, buyer_id, plan_version, units, claimed_at)
            VALUES ({reservationId}, {sku}, {buyer}, {planVersion}, {granted.Quantity}, now())
            ON CONFLICT (reservation_id, sku) DO UPDATE
            SET plan_version = excluded.plan_version, units = excluded.units, claimed_at = excluded.claimed_at
            """, cancellationToken);
        return granted;
    }
}
