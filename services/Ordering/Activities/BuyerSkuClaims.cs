using Brokering.Contracts.Ordering;
using Brokering.Messaging.Postgres;
using Brokering.Ordering.Saga;
using Brokering.ServiceDefaults;
using Npgsql;

namespace Brokering.Ordering.Activities;

/// <summary>
/// The per-buyer cap on one SKU (<see cref="OrderingOptions.MaxUnitsPerBuyerPerSku"/>), race-free. Holds reach the
/// saga row only when the plan that asked for them lands, so two plans of one buyer for one SKU reading the saga rows
/// side by side would each see the whole cap free. Instead every plan claims its units first, in a short transaction
/// (shared by the claims of the plans made at that moment, one commit for all) under a transaction-scoped advisory lock
/// per (buyer, SKU): the next claim waits for that lock only, and then sees the claim. The lock is not held while the
/// plan calls inventory, so plans of one buyer and SKU overlap.
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
public sealed class BuyerSkuClaims : BackgroundService
{
    /// <summary>First half of the two-key advisory lock ("cap" in ASCII), so it cannot meet another of ordering's locks.</summary>
    private const int LockSpace = 0x636170;

    /// <summary>Lines claimed in one transaction at most (one statement each, and one lock per buyer and SKU).</summary>
    private const int MaxBatchLines = 64;

    private const int Workers = 2;

    private static readonly string[] Ended = [.. ReservationStates.Declared.Terminal];
    // Confirmed units are read from the running total and the rows not yet folded into it, not from the buyer's confirmed
    // saga rows: those grow with the buyer's whole history, for ever.
    private static readonly string[] HoldingStock = [.. ReservationStates.Declared.HoldingStock.Where(state => state != ReservationStates.Declared.Confirmed)];
    private static readonly string[] Planning = [.. ReservationStates.Declared.Planning];

    /// <summary>
    /// Taken once per (buyer, SKU) of a batch, in a statement of its own: a statement's snapshot is taken when it starts,
    /// so the claim must start after the lock is granted to see the claim made by whoever held it before.
    /// </summary>
    private const string LockStatement = "SELECT pg_advisory_xact_lock($1, hashtext($2 || chr(31) || $3))";

    /// <summary>
    /// A line's claim, in one statement. Its parts all read the snapshot taken when it starts (after the lock), so the
    /// count sees the confirmed total and the rows not yet folded into it as they were before this statement folds
    /// them: the same sum. Claims of ended reservations are given back for good (they no longer count either way).
    /// The same plan asking again keeps what it was given; otherwise it is given what is left under the cap, up to the line.
    /// </summary>
    public const string ClaimStatement =
        """
        WITH given_back AS (
            DELETE FROM buyer_sku_claims c USING reservation_sagas s
            WHERE c.reservation_id = s.reservation_id AND c.buyer_id = $2 AND c.sku = $3
              AND s.current_state = ANY($8) AND c.reservation_id <> $4),
        -- Confirmations append their units as rows of their own (a trigger on the saga row, in the confirming
        -- transaction) rather than add to the total, a row every confirmation of the buyer and SKU would queue on;
        -- the claims, one at a time per buyer and SKU under the lock, fold those rows into the total.
        folded AS (
            DELETE FROM buyer_sku_confirmed_deltas WHERE buyer_id = $2 AND sku = $3 RETURNING units),
        total AS (
            INSERT INTO buyer_sku_confirmed_units AS t (buyer_id, sku, units)
            SELECT $2, $3, SUM(units) FROM folded HAVING count(*) > 0
            ON CONFLICT (buyer_id, sku) DO UPDATE SET units = t.units + excluded.units),
        claimed AS (
            INSERT INTO buyer_sku_claims (reservation_id, sku, buyer_id, plan_version, units, claimed_at)
            SELECT $4, $3, $2, $5, LEAST($6, GREATEST($7 - counted.taken, 0)), now()
            FROM (
                SELECT COALESCE(SUM(units), 0)::bigint AS taken FROM (
                    -- State by state (a lookup of its own each, planned for one state): however few sagas the statistics
                    -- saw when the plan was cached, the buyer's ended ones are never read.
                    SELECT (hold->>'quantity')::bigint AS units
                    FROM unnest($9::text[]) AS live(state)
                    CROSS JOIN LATERAL (SELECT s.allocations FROM reservation_sagas s WHERE s.buyer_id = $2 AND s.current_state = live.state OFFSET 0) s,
                         jsonb_array_elements(s.allocations) hold
                    WHERE hold->>'sku' = $3
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
            RETURNING units)
        -- What this statement gave, or, for a plan asking again, what it was given before (invisible to the insert above).
        SELECT units FROM claimed
        UNION ALL
        SELECT units FROM buyer_sku_claims WHERE reservation_id = $4 AND sku = $3 AND plan_version = $5
        """;

    private readonly NpgsqlDataSource dataSource;
    private readonly GroupCommit<Pending, long[]> claims;

    public BuyerSkuClaims(IConfiguration configuration, ILogger<BuyerSkuClaims> logger)
    {
        dataSource = NpgsqlDataSource.Create(ConnectionString(configuration));
        // A failed batch (a deadlock between two keys whose locks hash alike, taken in opposite orders, or one plan's
        // failure) is claimed again plan by plan.
        claims = new GroupCommit<Pending, long[]>(ClaimBatchAsync, pending => pending.Lines.Count, MaxBatchLines, Workers, "plans' claims", logger);
    }

    /// <summary>
    /// The claims' own connections. They never scan a table: their statements are prepared, and a plan cached while the
    /// sagas looked few (a fresh database, before autovacuum's first ANALYZE) read every saga the buyer ever had, once per
    /// claim, long after (docs/benchmarks.md). And they plan each statement once: costed anew for every claim's arrays
    /// and keys, the claim took longer to plan than to run (1.3 ms of PostgreSQL's CPU a claim), and the plan was the
    /// same lookup by key every time.
    /// </summary>
    public static string ConnectionString(IConfiguration configuration)
    {
        var connectionString = new NpgsqlConnectionStringBuilder(DatabaseExtensions.WithConnectionDefaults(
            configuration.GetConnectionString("Database") ?? throw new InvalidOperationException("ConnectionStrings:Database is not set.")));
        connectionString.Options = $"{connectionString.Options} {KeyLookups.ConnectionOptions}".Trim();
        return connectionString.ConnectionString;
    }

    /// <summary>
    /// Claims up to each line's units for plan <paramref name="planVersion"/> of the reservation and returns, line by line,
    /// the part the plan may hold. Committed before it returns, in a transaction of its own that the claims of other plans
    /// made at the same moment share (one commit for all of them, as inventory's hold batches). The same plan asking
    /// again is given what it was given the first time.
    /// </summary>
    public async Task<IReadOnlyList<ReservationLine>> ClaimAsync(
        string buyer, Guid reservationId, int planVersion, IReadOnlyList<ReservationLine> lines, long cap, CancellationToken cancellationToken)
    {
        if (cap <= 0 || lines.Count == 0)
        {
            return lines;
        }

        // A caller that gives up leaves its claim made: asked again, the same plan is given the same units.
        var units = await claims.CommitAsync(new Pending(buyer, reservationId, planVersion, lines, cap), cancellationToken);
        return [.. lines.Select((line, i) => line with { Quantity = units[i] })];
    }

    public override void Dispose()
    {
        dataSource.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => claims.RunAsync(stoppingToken);

    /// <summary>
    /// One round trip and one implicit transaction for every line of the batch: each (buyer, SKU) advisory lock is taken
    /// in key order (the same order in every batch of every replica, so two batches never wait on each other in a
    /// circle) and held to the batch's end, no longer than the database needs; the claims of one buyer and SKU in the
    /// batch run one after another and each sees the one before.
    /// </summary>
    private async Task<IReadOnlyList<long[]>> ClaimBatchAsync(IReadOnlyList<Pending> batch, CancellationToken cancellationToken)
    {
        var lines = batch
            .SelectMany((pending, p) => pending.Lines.Select((line, l) => (Pending: p, Line: l, pending.Buyer, line.Sku)))
            .OrderBy(x => x.Buyer, StringComparer.Ordinal).ThenBy(x => x.Sku, StringComparer.Ordinal)
            .ToList();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlBatch(connection);
        for (var i = 0; i < lines.Count; i++)
        {
            var (p, l, buyer, sku) = lines[i];
            var pending = batch[p];
            // Lines of one buyer and SKU are next to each other: the lock, once taken, is held to the batch's end.
            if (i == 0 || !string.Equals(lines[i - 1].Buyer, buyer, StringComparison.Ordinal) || !string.Equals(lines[i - 1].Sku, sku, StringComparison.Ordinal))
            {
                command.BatchCommands.Add(ClaimCommand(LockStatement, pending, pending.Lines[l]));
            }

            command.BatchCommands.Add(ClaimCommand(ClaimStatement, pending, pending.Lines[l]));
        }

        var granted = batch.Select(pending => new long[pending.Lines.Count]).ToArray();
        var next = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        do
        {
            if (reader.FieldCount == 1 && reader.GetName(0) == "units")
            {
                var (p, l, buyer, sku) = lines[next++];
                granted[p][l] = await reader.ReadAsync(cancellationToken)
                    ? reader.GetInt64(0)
                    : throw new InvalidOperationException(
                        $"The claim of plan {batch[p].PlanVersion} of reservation {batch[p].ReservationId} for {sku} ({buyer}) was not stored.");
            }
        }
        while (await reader.NextResultAsync(cancellationToken));

        return next == lines.Count ? granted : throw new InvalidOperationException($"{lines.Count - next} claim(s) of the batch were not answered.");
    }


    // Every statement takes the claim's key positionally: $1 lock space, $2 buyer, $3 SKU, $4 reservation, $5 plan, $6 the
    // line's units, $7 the cap, $8 the terminal states, $9 the live states holding stock, $10 the states planning (all
    // three from ReservationStates).
    private static NpgsqlBatchCommand ClaimCommand(string sql, Pending pending, ReservationLine line)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = LockSpace });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = pending.Buyer });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = line.Sku });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = pending.ReservationId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = pending.PlanVersion });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = line.Quantity });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = pending.Cap });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Ended });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = HoldingStock });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Planning });
        return command;
    }

    private sealed record Pending(string Buyer, Guid ReservationId, int PlanVersion, IReadOnlyList<ReservationLine> Lines, long Cap);
}
