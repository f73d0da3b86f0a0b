using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Brokering.Ordering.Activities;

/// <summary>
/// The per-buyer cap on one SKU (<see cref="OrderingOptions.MaxUnitsPerBuyerPerSku"/>), race-free. Holds reach the
/// saga row only when the plan that asked for them lands, so two plans of one buyer for one SKU reading the saga rows
/// side by side would each see the whole cap free. Instead every plan claims its units first, in a short transaction
/// of its own under a transaction-scoped advisory lock per (buyer, SKU): the next claim waits for that lock only, and
/// then sees the claim. The lock is not held while the plan calls inventory, so plans of one buyer and SKU overlap.
/// </summary>
/// <remarks>
/// What counts against the cap: the units held or committed in the buyer's reservations that are live or confirmed
/// (from their saga rows), plus the claims of plans that have not landed. A claim has landed once its reservation's
/// saga row records that plan version outside Allocating (its holds are on the row by then); it stops counting then,
/// in the same commit that puts its holds on the row, and when its reservation ends (the next claim of that buyer and
/// SKU deletes it). Until the saga row records the plan (the plan is being made by the event that created the
/// reservation, or by one still in flight) the claim counts: a plan whose event is retried claims again and is given
/// the same units.
/// </remarks>
public sealed class BuyerSkuClaims(OrderingDbContext db)
{
    /// <summary>First half of the two-key advisory lock ("cap" in ASCII), so it cannot meet another of ordering's locks.</summary>
    private const int LockSpace = 0x636170;

    /// <summary>
    /// Claims up to the line's units for plan <paramref name="planVersion"/> of the reservation and returns the part
    /// of the line the plan may hold. Commits at once, on a connection of its own. The same plan asking again is
    /// given what it was given the first time.
    /// </summary>
    public async Task<ReservationLine> ClaimAsync(
        string buyer, Guid reservationId, int planVersion, ReservationLine line, long cap, CancellationToken cancellationToken)
    {
        if (cap <= 0)
        {
            return line;
        }

        var sku = line.Sku;
        await using var connection = new NpgsqlConnection(db.Database.GetConnectionString());
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await using (var locked = new NpgsqlCommand(
            """
            SELECT pg_advisory_xact_lock(@space, hashtext(@buyer || chr(31) || @sku));
            SELECT units FROM buyer_sku_claims WHERE reservation_id = @reservation AND sku = @sku AND plan_version = @plan;
            """, connection, transaction))
        {
            AddClaimKey(locked, buyer, sku, reservationId, planVersion);
            await using var reader = await locked.ExecuteReaderAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                var units = reader.GetInt64(0);
                await reader.DisposeAsync();
                await transaction.CommitAsync(cancellationToken);
                return line with { Quantity = units };
            }
        }

        long taken;
        await using (var counted = new NpgsqlCommand(
            """
            -- Claims of reservations that ended are given back for good.
            DELETE FROM buyer_sku_claims c USING reservation_sagas s
            WHERE c.reservation_id = s.reservation_id AND c.buyer_id = @buyer AND c.sku = @sku
              AND s.current_state = ANY(@terminal);
            SELECT COALESCE(SUM(units), 0)::bigint FROM (
                SELECT (hold->>'quantity')::bigint AS units
                FROM reservation_sagas s, jsonb_array_elements(s.allocations) hold
                WHERE s.buyer_id = @buyer AND hold->>'sku' = @sku
                  AND s.current_state IN ('Allocating', 'Held', 'AwaitingStock', 'Confirming', 'Confirmed')
                UNION ALL
                SELECT c.units
                FROM buyer_sku_claims c LEFT JOIN reservation_sagas s ON s.reservation_id = c.reservation_id
                WHERE c.buyer_id = @buyer AND c.sku = @sku AND c.reservation_id <> @reservation
                  AND (s.reservation_id IS NULL
                       OR (s.current_state = 'Allocating' AND s.plan_version = c.plan_version)
                       OR (s.current_state <> ALL(@terminal) AND s.plan_version < c.plan_version))
            ) counted;
            """, connection, transaction))
        {
            AddClaimKey(counted, buyer, sku, reservationId, planVersion);
            counted.Parameters.AddWithValue("terminal", ReservationStateMachine.TerminalStateNames);
            taken = (long)(await counted.ExecuteScalarAsync(cancellationToken))!;
        }

        var granted = AllocationPlanner.WithinBuyerCap(line, taken, cap);
        await using (var claim = new NpgsqlCommand(
            """
            INSERT INTO buyer_sku_claims (reservation_id, sku, buyer_id, plan_version, units, claimed_at)
            VALUES (@reservation, @sku, @buyer, @plan, @units, now())
            ON CONFLICT (reservation_id, sku) DO UPDATE
            SET plan_version = excluded.plan_version, units = excluded.units, claimed_at = excluded.claimed_at
            """, connection, transaction))
        {
            AddClaimKey(claim, buyer, sku, reservationId, planVersion);
            claim.Parameters.AddWithValue("units", granted.Quantity);
            await claim.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return granted;
    }

    /// <summary>The claim's key (buyer, SKU, reservation, plan) and the advisory lock space, as every statement here names them.</summary>
    private static void AddClaimKey(NpgsqlCommand command, string buyer, string sku, Guid reservationId, int planVersion)
    {
        command.Parameters.AddWithValue("space", LockSpace);
        command.Parameters.AddWithValue("buyer", buyer);
        command.Parameters.AddWithValue("sku", sku);
        command.Parameters.AddWithValue("reservation", reservationId);
        command.Parameters.AddWithValue("plan", planVersion);
    }
}
