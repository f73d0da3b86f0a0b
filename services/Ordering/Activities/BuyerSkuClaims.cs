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
/// What counts against the cap: the units held or committed in the buyer's live reservations (from their saga rows),
/// the units of its confirmed ones (a running total per buyer and SKU, <c>buyer_sku_confirmed_units</c>, plus the rows
/// <c>buyer_sku_confirmed_deltas</c> a trigger appends in the very transaction that confirms and the next claim folds
/// into the total, so a claim sees a reservation's units on its row, in a row of their own or in the total, exactly
/// once), plus the claims of plans that have not landed. A claim has landed once its reservation's
/// saga row records that plan version outside the planning state (Allocating; its holds are on the row by then); it stops counting then,
/// in the same commit that puts its holds on the row, and when its reservation ends (the next claim of that buyer and
/// SKU deletes it). Until the saga row records the plan (the plan is being made by the event that created the
/// reservation, or by one still in flight) the claim counts: a plan whose event is retried claims again and is given
/// the same units.
/// </remarks>
public sealed class BuyerSkuClaims(OrderingDbContext db)
{
    /// <summary>First half of the two-key advisory lock ("cap" in ASCII), so it cannot meet another of ordering's locks.</summary>
    private const int LockSpace = 0x636170;

    private static readonly string[] Ended = [.. ReservationStates.Declared.Terminal];
    // Confirmed units are read from the running total and the rows not yet folded into it, not from the buyer's confirmed
    // saga rows: those grow with the buyer's whole history, for ever.
    private static readonly string[] HoldingStock = [.. ReservationStates.Declared.HoldingStock.Where(state => state != ReservationStates.Declared.Confirmed)];
    private static readonly string[] Planning = [.. ReservationStates.Declared.Planning];

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

        // One round trip: the batch runs as one implicit transaction, so the advisory lock is held from its first
        // statement to the batch's end, no longer than the database needs (a transaction of its own per statement set
        // with client round trips in between made every other plan of the buyer and SKU wait for those round trips).
        await using var connection = new NpgsqlConnection(db.Database.GetConnectionString());
        await connection.OpenAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(ClaimCommand("SELECT pg_advisory_xact_lock($1, hashtext($2 || chr(31) || $3))"));
        // Claims of reservations that ended are given back for good.
        batch.BatchCommands.Add(ClaimCommand("""
            DELETE FROM buyer_sku_claims c USING reservation_sagas s
            WHERE c.reservation_id = s.reservation_id AND c.buyer_id = $2 AND c.sku = $3
              AND s.current_state = ANY($8)
            """));
        // Confirmations append their units as rows of their own (a trigger on the saga row, in the confirming
        // transaction) rather than add to the total, a row every confirmation of the buyer and SKU would queue on; the
        // claims, one at a time per buyer and SKU under the lock above, fold those rows into the total.
        batch.BatchCommands.Add(ClaimCommand("""
            WITH folded AS (
                DELETE FROM buyer_sku_confirmed_deltas WHERE buyer_id = $2 AND sku = $3 RETURNING units)
            INSERT INTO buyer_sku_confirmed_units AS t (buyer_id, sku, units)
            SELECT $2, $3, SUM(units) FROM folded HAVING count(*) > 0
            ON CONFLICT (buyer_id, sku) DO UPDATE SET units = t.units + excluded.units
            """));
        // The same plan asking again keeps what it was given; otherwise what is left under the cap, up to the line.
        batch.BatchCommands.Add(ClaimCommand("""
            INSERT INTO buyer_sku_claims (reservation_id, sku, buyer_id, plan_version, units, claimed_at)
            SELECT $4, $3, $2, $5, LEAST($6, GREATEST($7 - counted.taken, 0)), now()
            FROM (
                SELECT COALESCE(SUM(units), 0)::bigint AS taken FROM (
                    SELECT (hold->>'quantity')::bigint AS units
                    FROM reservation_sagas s, jsonb_array_elements(s.allocations) hold
                    WHERE s.buyer_id = $2 AND hold->>'sku' = $3
                      AND s.current_state = ANY($9)
                    UNION ALL
                    SELECT t.units FROM buyer_sku_confirmed_units t WHERE t.buyer_id = $2 AND t.sku = $3
                    UNION ALL
                    SELECT d.units FROM buyer_sku_confirmed_deltas d WHERE d.buyer_id = $2 AND d.sku = $3
                    UNION ALL
                    SELECT c.units
                    FROM buyer_sku_claims c LEFT JOIN reservation_sagas s ON s.reservation_id = c.reservation_id
                    WHERE c.buyer_id = $2 AND c.sku = $3 AND c.reservation_id <> $4
                      AND (s.reservation_id IS NULL
                           OR (s.current_state = ANY($10) AND s.plan_version = c.plan_version)
                           OR (s.current_state <> ALL($8) AND s.plan_version < c.plan_version))
                ) held
            ) counted
            WHERE NOT EXISTS (SELECT 1 FROM buyer_sku_claims WHERE reservation_id = $4 AND sku = $3 AND plan_version = $5)
            ON CONFLICT (reservation_id, sku) DO UPDATE
            SET plan_version = excluded.plan_version, units = excluded.units, claimed_at = excluded.claimed_at
            """));
        batch.BatchCommands.Add(ClaimCommand("SELECT units FROM buyer_sku_claims WHERE reservation_id = $4 AND sku = $3 AND plan_version = $5"));

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        do
        {
            if (reader.FieldCount == 1 && reader.GetName(0) == "units" && await reader.ReadAsync(cancellationToken))
            {
                return line with { Quantity = reader.GetInt64(0) };
            }
        }
        while (await reader.NextResultAsync(cancellationToken));

        throw new InvalidOperationException($"The claim of plan {planVersion} of reservation {reservationId} for {line.Sku} was not stored.");

        // Every statement takes the claim's key positionally: $1 lock space, $2 buyer, $3 SKU, $4 reservation, $5 plan,
        // $6 the line's units, $7 the cap, $8 the terminal states, $9 the live states holding stock, $10 the states planning
        // (all three from ReservationStates).
        NpgsqlBatchCommand ClaimCommand(string sql)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = LockSpace });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = buyer });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = line.Sku });
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = reservationId });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = planVersion });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = line.Quantity });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = cap });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Ended });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = HoldingStock });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Planning });
            return command;
        }
    }
}
