using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Brokering.Inventory.StockFeeds;

/// <summary>
/// Applies distributors' stock updates: the one behaviour behind the gRPC stream, the REST endpoint and
/// the AMQP queue. An update is applied in one transaction with its sequence bump: the distributor's
/// row is locked, the items are staged in a temporary table (binary COPY for a large update), and one
/// set-based statement locks the levels in key order, checks each item against its level, flags the holds
/// the new stock no longer covers as shortfall and upserts every level; the resulting events go to the
/// outbox in the same transaction. No EF, no per-item round trip.
/// Deltas are relative, so they commute: each sequence is applied exactly once, in whatever order it arrives. The
/// sequences a delta skipped are kept as open gaps (<c>feed_gaps</c>, written under the distributor's lock); a late
/// delta inside one is applied and narrows it, a snapshot (absolute) closes every gap and supersedes what came before it.
/// </summary>
internal sealed class StockFeedIngestor(
    InventoryTransactions transactions,
    IOptions<InventoryOptions> options,
    InventoryMetrics metrics,
    ILogger<StockFeedIngestor> logger)
{
    /// <summary>Applies one update; <paramref name="channel"/> (grpc, rest, amqp) only labels metrics and logs.</summary>
    public async Task<StockUpdateResult> ApplyAsync(StockFeedUpdate update, string channel, CancellationToken cancellationToken)
    {
        var result = await ApplyCoreAsync(update, cancellationToken);
        metrics.Record(result, channel);
        if (result.Outcome == StockUpdateOutcome.Rejected)
        {
            logger.LogWarning("Stock update {DistributorId}#{Sequence} via {Channel} rejected: {Error}", result.DistributorId, result.Sequence, channel, result.Error);
        }
        else if (result.GapDetected)
        {
            logger.LogWarning(
                "Stock update {DistributorId}#{Sequence} via {Channel} skipped sequences after {Previous}; its stock is not offered until the missing deltas or a snapshot arrive",
                result.DistributorId, result.Sequence, channel, result.PreviousSequence);
        }

        return result;
    }

    private async Task<StockUpdateResult> ApplyCoreAsync(StockFeedUpdate update, CancellationToken cancellationToken)
    {
        var updateErrors = StockUpdateValidator.ValidateUpdate(update);
        if (updateErrors.Count > 0)
        {
            return StockUpdateResult.Rejected(
                update.DistributorId, update.Sequence, StockUpdateRejection.Invalid, string.Join(" ", updateErrors.Values.SelectMany(m => m)));
        }

        var kind = update.Kind!.Value;
        var items = update.Items ?? [];
        var (valid, shapeErrors) = StockUpdateValidator.ValidateItems(kind, items);
        // The levels named by items with an error, which a snapshot must leave alone (valid items name theirs already).
        // Only keys a level can have: one with a SKU that is no SKU or a control character in its warehouse names no level,
        // and a NUL in it, sent to PostgreSQL, would fail the whole update instead of that item.
        var mentioned = shapeErrors
            .Select(e => items[e.Index])
            .Select(i => StockUpdateValidator.LevelKey(i?.Sku, i?.Warehouse))
            .OfType<(string, string)>()
            .ToHashSet();
        var distributorId = update.DistributorId!.Trim();

        return await transactions.RunRawAsync(
            (unit, token) => new Application(unit, options.Value, metrics, distributorId, update.Sequence, kind, items.Count, valid, shapeErrors, mentioned)
                .RunAsync(token),
            cancellationToken);
    }

    /// <summary>One attempt at applying one update inside one transaction.</summary>
    private sealed class Application(
        RawUnitOfWork unit,
        InventoryOptions options,
        InventoryMetrics metrics,
        string distributorId,
        long sequence,
        StockUpdateKind kind,
        int itemCount,
        List<ValidItem> candidates,
        IReadOnlyList<StockItemError> shapeErrors,
        HashSet<(string, string)> mentioned)
    {
        /// <summary>From this many staged rows on, the stage is filled by binary COPY instead of a parameter array.</summary>
        private const int CopyThreshold = 128;

        /// <summary>
        /// The whole update against the staged items, in one statement, once the levels are locked (in key order, all of
        /// the distributor's for a snapshot, by the statement before): each valid item is checked against its level (a delta below zero or overflowing,
        /// new stock without a price), a snapshot zeroes the levels it does not mention, the youngest active holds the new
        /// on-hand no longer covers are flagged as shortfall and their units given back, every changed level is written,
        /// and the SKUs whose available units went up are noted in <c>feed_up</c> for the StockAvailable sums.
        /// The stage and the levels are joined once (a full join, so a snapshot's unmentioned levels come with it) and
        /// everything after reads that one row per key: each further join of the two was another sort of thousands of
        /// rows. Keys are compared in the "C" collation (the stage's own, and a cast of the levels' columns), so the
        /// joins and sorts compare bytes, not locale rules; equality is the same in both. Existing levels are written by
        /// an UPDATE joined to that row (cheaper than an upsert's speculative insert per row, and they are locked
        /// already) through the row's ctid, read in the join: the levels are locked, so it is their latest version, and a
        /// TID fetch per changed level costs the same whatever the statistics say. Joined on the key instead, the UPDATE
        /// was planned from the table's statistics, which know nothing of a distributor whose levels arrived after the
        /// last ANALYZE: the planner expected one level, rescanned the changes for each of them (5,000 × 5,000 rows for a
        /// delta, seconds instead of tens of milliseconds) until autovacuum analysed the table again.
        /// Only new levels are inserted.
        /// $1 distributor, $2 snapshot?, $3 now, $4 shortfall reason, $5 was the feed fresh before this update?
        /// </summary>
        private const string MergeSql = """
            WITH
            joined AS MATERIALIZED (
                SELECT coalesce(f.sku, c.sku) AS sku, coalesce(f.warehouse, c.warehouse) AS warehouse, f.sku IS NOT NULL AS staged, f.idx, f.valid, f.qty,
                       c.sku IS NOT NULL AS existed, c.level, c.on_hand AS before_on_hand, coalesce(c.held, 0) AS held, coalesce(c.committed, 0) AS committed,
                       CASE
                           WHEN $2 OR NOT f.valid THEN NULL
                           WHEN f.qty < 0 AND coalesce(c.on_hand, 0) + f.qty < 0 THEN 'below'
                           WHEN f.qty > 0 AND coalesce(c.on_hand, 0) > 9223372036854775807 - f.qty THEN 'overflow'
                       END AS quantity_error,
                       coalesce(f.unit_price, c.unit_price) AS unit_price, coalesce(f.currency, c.currency) AS currency,
                       coalesce(f.lead_time_days, c.lead_time_days, 0) AS lead_time_days, coalesce(f.moq, c.moq, 1) AS moq
                FROM feed_stage f
                FULL JOIN (
                    SELECT s.ctid AS level, s.sku::text COLLATE "C" AS sku, s.warehouse::text COLLATE "C" AS warehouse, s.on_hand, s.held, s.committed, s.unit_price,
                           s.currency, s.lead_time_days, s.minimum_order_quantity AS moq
                    FROM stock_levels s
                    -- Locked by the statement before, so read as they are (the latest committed versions, which nobody else can change now).
                    WHERE s.distributor_id = $1 AND ($2 OR (s.sku, s.warehouse) IN (SELECT f.sku, f.warehouse FROM feed_stage f))) c
                ON c.sku = f.sku AND c.warehouse = f.warehouse),
            changes AS MATERIALIZED (
                SELECT j.sku, j.warehouse, CASE WHEN $2 THEN j.qty ELSE coalesce(j.before_on_hand, 0) + j.qty END AS on_hand, j.held, j.committed,
                       j.unit_price, j.currency, j.lead_time_days, j.moq, j.existed, j.level,
                       CASE WHEN $5 AND j.existed THEN GREATEST(j.before_on_hand - j.held - j.committed, 0) ELSE 0 END AS available_before
                FROM joined j
                WHERE j.valid AND j.quantity_error IS NULL AND j.unit_price IS NOT NULL AND j.currency IS NOT NULL
                UNION ALL
                -- A snapshot is the whole truth, but a level it mentions with an error is left as it was.
                SELECT j.sku, j.warehouse, 0, j.held, j.committed, j.unit_price, j.currency, j.lead_time_days, j.moq, true, j.level,
                       CASE WHEN $5 THEN GREATEST(j.before_on_hand - j.held - j.committed, 0) ELSE 0 END
                FROM joined j
                WHERE $2 AND NOT j.staged AND j.before_on_hand <> 0),
            deficits AS (
                SELECT sku, warehouse, LEAST(held, held + committed - on_hand) AS deficit
                FROM changes WHERE held > 0 AND on_hand < held + committed),
            candidate_holds AS MATERIALIZED (
                SELECT h.id, h.reservation_id, h.sku::text COLLATE "C" AS sku, h.warehouse::text COLLATE "C" AS warehouse, h.quantity, h.created_at
                FROM holds h JOIN deficits d ON d.sku = h.sku AND d.warehouse = h.warehouse
                -- EXISTS: a one-time filter, so an update without a deficit does not scan the active holds at all.
                WHERE h.distributor_id = $1 AND h.status = 'Active' AND EXISTS (SELECT 1 FROM deficits)
                ORDER BY h.created_at DESC, h.id DESC
                FOR UPDATE OF h),
            flagged AS MATERIALIZED (
                SELECT c.id, c.reservation_id, c.sku, c.warehouse, c.quantity
                FROM (SELECT ch.*, coalesce(sum(ch.quantity) OVER (PARTITION BY ch.sku, ch.warehouse ORDER BY ch.created_at DESC, ch.id DESC
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
                      FROM candidate_holds ch) c
                JOIN deficits d ON d.sku = c.sku AND d.warehouse = c.warehouse
                WHERE c.before < d.deficit),
            released AS (SELECT sku, warehouse, sum(quantity)::bigint AS units FROM flagged GROUP BY sku, warehouse),
            final AS MATERIALIZED (
                SELECT c.sku, c.warehouse, c.on_hand, c.held - coalesce(r.units, 0) AS held, c.committed, c.unit_price, c.currency, c.lead_time_days, c.moq,
                       c.existed, c.level, c.available_before
                FROM changes c LEFT JOIN released r ON r.sku = c.sku AND r.warehouse = c.warehouse),
            marked AS (
                UPDATE holds h SET status = 'Shortfall', closed_at = $3, reason = $4
                FROM flagged f WHERE h.id = f.id AND h.status = 'Active' AND EXISTS (SELECT 1 FROM flagged)
                RETURNING h.id),
            updated AS (
                UPDATE stock_levels s SET
                    on_hand = f.on_hand, held = f.held, unit_price = f.unit_price, currency = f.currency,
                    lead_time_days = f.lead_time_days, minimum_order_quantity = f.moq, updated_at = $3
                FROM final f
                WHERE f.existed AND s.ctid = f.level
                RETURNING 1),
            inserted AS (
                -- No ON CONFLICT: the distributor's row lock serialises its updates, and only they create its levels.
                INSERT INTO stock_levels (distributor_id, sku, warehouse, on_hand, held, committed, last_granted, unit_price, currency, lead_time_days, minimum_order_quantity, updated_at)
                SELECT $1, f.sku, f.warehouse, f.on_hand, f.held, 0, 0, f.unit_price, f.currency, f.lead_time_days, f.moq, $3 FROM final f WHERE NOT f.existed
                RETURNING 1),
            went_up AS (
                -- Read by the sums later in the round trip, not here: a data-modifying CTE runs whether or not it is read.
                INSERT INTO feed_up (sku)
                SELECT DISTINCT f.sku FROM final f WHERE GREATEST(f.on_hand - f.held - f.committed, 0) > f.available_before)
            SELECT 'error' AS kind, j.idx, coalesce(j.quantity_error, 'price') AS error, j.before_on_hand, NULL::uuid AS hold_id, NULL::uuid AS reservation_id,
                   NULL::text AS sku, NULL::bigint AS quantity
            FROM joined j WHERE j.valid AND (j.quantity_error IS NOT NULL OR j.unit_price IS NULL OR j.currency IS NULL)
            UNION ALL
            SELECT 'shortfall', NULL, NULL, NULL, f.id, f.reservation_id, f.sku, f.quantity FROM flagged f
            """;

        private readonly List<StockItemError> errors = [.. shapeErrors];

        /// <summary>The distributor's open gaps as this update found them (read under its lock).</summary>
        private readonly List<(long From, long To)> gaps = [];

        public async Task<StockUpdateResult> RunAsync(CancellationToken cancellationToken)
        {
            long lastSequence;
            bool gapOpen;
            DateTimeOffset? lastFeedAt;
            long lastSnapshotSequence;
            await using (var batch = unit.Connection.CreateBatch())
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
                // Dropped at the end of the transaction: nothing outlives it on the pooled connection.
                batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                    CREATE TEMP TABLE feed_stage (idx int, sku text COLLATE "C", warehouse text COLLATE "C", valid bool, qty bigint, unit_price numeric,
                                                  currency text, lead_time_days int, moq bigint) ON COMMIT DROP
                    """));
                batch.BatchCommands.Add(new NpgsqlBatchCommand("CREATE TEMP TABLE feed_up (sku text) ON COMMIT DROP"));
                var distributor = new NpgsqlBatchCommand("SELECT last_sequence, gap_open, last_feed_at, last_snapshot_sequence FROM distributors WHERE id = $1 FOR UPDATE");
                distributor.Parameters.Add(new NpgsqlParameter { Value = distributorId });
                batch.BatchCommands.Add(distributor);
                // A statement of its own, after the lock: its snapshot sees the gaps as the previous holder of the lock left them.
                var openGaps = new NpgsqlBatchCommand("SELECT from_sequence, to_sequence FROM feed_gaps WHERE distributor_id = $1");
                openGaps.Parameters.Add(new NpgsqlParameter { Value = distributorId });
                batch.BatchCommands.Add(openGaps);
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    return StockUpdateResult.Rejected(distributorId, sequence, StockUpdateRejection.UnknownDistributor, $"Distributor '{distributorId}' is not registered.");
                }

                lastSequence = reader.GetInt64(0);
                gapOpen = reader.GetBoolean(1);
                lastFeedAt = reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2);
                lastSnapshotSequence = reader.GetInt64(3);
                await reader.NextResultAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    gaps.Add((reader.GetInt64(0), reader.GetInt64(1)));
                }
            }

            // Returning without COMMIT rolls the transaction back: nothing was written.
            if (sequence < lastSnapshotSequence)
            {
                // Whether or not it was applied before, the newer snapshot already stands for it.
                return new StockUpdateResult(distributorId, sequence, StockUpdateOutcome.Superseded, 0, false, false, lastSequence, [], null, StockUpdateRejection.None,
                    Ranges(gaps));
            }

            (long From, long To)? filled = kind == StockUpdateKind.Delta && sequence <= lastSequence
                ? gaps.Where(g => g.From <= sequence && sequence <= g.To).Select(g => ((long, long)?)g).FirstOrDefault()
                : null;
            if (sequence <= lastSequence && filled is null)
            {
                // Nothing changes, but a gap this update cannot fill (a late snapshot, below deltas already applied, cannot be
                // applied over them) stays open: the answer names what to resend.
                return new StockUpdateResult(distributorId, sequence, StockUpdateOutcome.Duplicate, 0, false, false, lastSequence, [], null, StockUpdateRejection.None,
                    Ranges(gaps));
            }

            var gapDetected = lastSequence > 0 && sequence > lastSequence + 1;
            var gapWasOpen = gapOpen || gaps.Count > 0;
            var gapCommands = GapCommands(gapDetected, filled, lastSequence, out var missingAfter);
            var gapOpenAfter = missingAfter.Count > 0;
            // A gapped distributor's stock is not offered: before this update nothing of it was available to anyone.
            var wasOffered = lastFeedAt is { } at && at > unit.Now - options.StaleAfter && !gapWasOpen;
            var staged = Stage();
            var shortfalls = new List<(Guid HoldId, Guid ReservationId, string Sku, long Quantity)>();
            var available = new List<StockAvailable>();
            var rejectedItems = 0;
            await using (var batch = unit.Connection.CreateBatch())
            {
                if (staged.Count >= CopyThreshold)
                {
                    await CopyAsync(staged, cancellationToken);
                }
                else
                {
                    batch.BatchCommands.Add(InsertStage(staged));
                }

                var unknown = new NpgsqlBatchCommand("""
                    DELETE FROM feed_stage f WHERE f.valid AND NOT EXISTS (SELECT 1 FROM skus k WHERE k.sku = f.sku) RETURNING f.idx
                    """);
                batch.BatchCommands.Add(unknown);
                // The levels are locked by a statement of their own: the merge's snapshot, taken after it, then sees every
                // hold committed by whoever held a level before (a hold row is new, and a lock wait does not show new rows
                // to the statement that waited).
                var lockLevels = new NpgsqlBatchCommand("""
                    WITH l AS (
                        SELECT 1 FROM stock_levels s
                        WHERE s.distributor_id = $1 AND ($2 OR (s.sku, s.warehouse) IN (SELECT f.sku, f.warehouse FROM feed_stage f))
                        ORDER BY s.sku COLLATE "C", s.warehouse COLLATE "C"
                        FOR UPDATE)
                    SELECT count(*) FROM l
                    """);
                lockLevels.Parameters.Add(new NpgsqlParameter { Value = distributorId });
                lockLevels.Parameters.Add(new NpgsqlParameter { Value = kind == StockUpdateKind.Snapshot });
                batch.BatchCommands.Add(lockLevels);
                var merge = new NpgsqlBatchCommand(MergeSql);
                merge.Parameters.Add(new NpgsqlParameter { Value = distributorId });
                merge.Parameters.Add(new NpgsqlParameter { Value = kind == StockUpdateKind.Snapshot });
                merge.Parameters.Add(new NpgsqlParameter { Value = unit.Now });
                merge.Parameters.Add(new NpgsqlParameter { Value = $"Stock update {distributorId}#{sequence} left fewer units on hand than held." });
                merge.Parameters.Add(new NpgsqlParameter { Value = wasOffered });
                batch.BatchCommands.Add(merge);

                // The sequence, the gaps and the StockAvailable sums go in this round trip too, though whether the update
                // is applied at all is known only once the merge has answered: an update with no valid item returns
                // without COMMIT, which rolls them back with everything else.
                gapCommands.ForEach(batch.BatchCommands.Add);
                batch.BatchCommands.Add(MoveSequence(gapOpenAfter));
                // Stock still behind an open gap is not offered, so announcing it would wake reservations for nothing.
                if (!gapOpenAfter)
                {
                    // After the merge (feed_up) and the sequence (the distributor fresh again), so the sums see both.
                    var sums = new NpgsqlBatchCommand("""
                        SELECT s.sku, SUM(GREATEST(s.on_hand - s.held - s.committed, 0))::bigint
                        FROM stock_levels s JOIN distributors d ON d.id = s.distributor_id
                        WHERE s.sku IN (SELECT u.sku FROM feed_up u) AND d.last_feed_at > $1 AND NOT d.gap_open
                        GROUP BY s.sku
                        """);
                    sums.Parameters.Add(new NpgsqlParameter { Value = unit.Now - options.StaleAfter });
                    batch.BatchCommands.Add(sums);
                }

                // Built only when an item is refused: a valid snapshot needs no lookup by index.
                Dictionary<int, ValidItem>? byIndex = null;
                ValidItem Candidate(int index) => (byIndex ??= candidates.ToDictionary(c => c.Index))[index];
                // Statements that return no rows (the stage insert, the gap and sequence writes) have no result set in the reader.
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var item = Candidate(reader.GetInt32(0));
                    errors.Add(new StockItemError(item.Index, item.Sku, $"items[{item.Index}].sku", $"Unknown SKU '{item.Sku}'."));
                    rejectedItems++;
                }

                await reader.NextResultAsync(cancellationToken);
                await reader.NextResultAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    switch (reader.GetString(0))
                    {
                        case "error":
                            errors.Add(ItemError(Candidate(reader.GetInt32(1)), reader.GetString(2), reader.IsDBNull(3) ? 0 : reader.GetInt64(3)));
                            rejectedItems++;
                            break;
                        default:
                            shortfalls.Add((reader.GetGuid(4), reader.GetGuid(5), reader.GetString(6), reader.GetInt64(7)));
                            break;
                    }
                }

                if (await reader.NextResultAsync(cancellationToken))
                {
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        available.Add(new StockAvailable(reader.GetString(0), reader.GetInt64(1), unit.Now));
                    }
                }
            }

            var applied = candidates.Count - rejectedItems;
            if (itemCount > 0 && applied == 0)
            {
                return StockUpdateResult.Rejected(
                    distributorId, sequence, StockUpdateRejection.Invalid, "No item of the update is valid; nothing was applied.", Sorted(errors), lastSequence);
            }

            // One source per event (per SKU here, per reservation and SKU below): they do not depend on one another, so
            // the relay sends them at once instead of one publisher confirm after another.
            foreach (var message in available)
            {
                unit.Outbox.StartSource();
                await unit.Outbox.PublishEndpoint.Publish(message, cancellationToken);
            }

            if (shortfalls.Count > 0)
            {
                metrics.HoldsShortfall(shortfalls.Count);
                foreach (var shortfall in shortfalls.GroupBy(h => (h.ReservationId, h.Sku)))
                {
                    unit.Outbox.StartSource();
                    await unit.Outbox.PublishEndpoint.Publish(
                        new StockShortfallDetected(shortfall.Key.ReservationId, shortfall.Key.Sku, distributorId, shortfall.Select(h => h.HoldId).ToList(), shortfall.Sum(h => h.Quantity)),
                        cancellationToken);
                }
            }

            await using (var batch = unit.Connection.CreateBatch())
            {
                unit.Outbox.AddTo(batch);
                batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
                await batch.ExecuteNonQueryAsync(cancellationToken);
            }

            return new StockUpdateResult(
                distributorId, sequence, StockUpdateOutcome.Applied, applied, gapDetected,
                (gapWasOpen || gapDetected) && !gapOpenAfter, lastSequence, Sorted(errors), null, StockUpdateRejection.None, Ranges(missingAfter));
        }

        /// <summary>The distributor's sequence, freshness and gap flag once this update is applied.</summary>
        private NpgsqlBatchCommand MoveSequence(bool gapOpenAfter)
        {
            // GREATEST: a delta that fills a gap is below the last sequence and must not move it back.
            var moveSequence = new NpgsqlBatchCommand("""
                UPDATE distributors SET last_sequence = GREATEST(last_sequence, $1), last_feed_at = $2, gap_open = $3,
                                        last_snapshot_sequence = CASE WHEN $5 THEN $1 ELSE last_snapshot_sequence END
                WHERE id = $4
                """);
            moveSequence.Parameters.Add(new NpgsqlParameter { Value = sequence });
            moveSequence.Parameters.Add(new NpgsqlParameter { Value = unit.Now });
            moveSequence.Parameters.Add(new NpgsqlParameter { Value = gapOpenAfter });
            moveSequence.Parameters.Add(new NpgsqlParameter { Value = distributorId });
            moveSequence.Parameters.Add(new NpgsqlParameter { Value = kind == StockUpdateKind.Snapshot });
            return moveSequence;
        }

        private static List<SequenceRange> Ranges(IEnumerable<(long From, long To)> gaps) =>
            [.. gaps.OrderBy(gap => gap.From).Select(gap => new SequenceRange(gap.From, gap.To))];

        /// <summary>
        /// The statements that keep <c>feed_gaps</c> true once this update is applied: a snapshot closes every gap (all are
        /// below it); a delta above the last sequence opens one for the sequences it skipped; a delta inside a gap narrows
        /// or splits it. They run in the merge's round trip, before the sequence moves.
        /// </summary>
        private List<NpgsqlBatchCommand> GapCommands(bool gapDetected, (long From, long To)? filled, long lastSequence, out List<(long From, long To)> missingAfter)
        {
            var commands = new List<NpgsqlBatchCommand>();
            missingAfter = [.. gaps];
            if (kind == StockUpdateKind.Snapshot)
            {
                missingAfter.Clear();
                if (gaps.Count > 0)
                {
                    commands.Add(GapCommand("DELETE FROM feed_gaps WHERE distributor_id = $1"));
                }

                return commands;
            }

            if (filled is { } gap)
            {
                missingAfter.Remove(gap);
                commands.Add(GapCommand("DELETE FROM feed_gaps WHERE distributor_id = $1 AND from_sequence = $2", gap.From));
                if (gap.From < sequence)
                {
                    commands.Add(GapCommand("INSERT INTO feed_gaps (distributor_id, from_sequence, to_sequence) VALUES ($1, $2, $3)", gap.From, sequence - 1));
                    missingAfter.Add((gap.From, sequence - 1));
                }

                if (sequence < gap.To)
                {
                    commands.Add(GapCommand("INSERT INTO feed_gaps (distributor_id, from_sequence, to_sequence) VALUES ($1, $2, $3)", sequence + 1, gap.To));
                    missingAfter.Add((sequence + 1, gap.To));
                }
            }
            else if (gapDetected)
            {
                commands.Add(GapCommand("INSERT INTO feed_gaps (distributor_id, from_sequence, to_sequence) VALUES ($1, $2, $3)", lastSequence + 1, sequence - 1));
                missingAfter.Add((lastSequence + 1, sequence - 1));
            }

            return commands;
        }

        private NpgsqlBatchCommand GapCommand(string sql, params long[] sequences)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new NpgsqlParameter { Value = distributorId });
            foreach (var value in sequences)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = value });
            }

            return command;
        }

        private static List<StockItemError> Sorted(List<StockItemError> list) => [.. list.OrderBy(e => e.Index)];

        private static StockItemError ItemError(ValidItem item, string error, long before) => error switch
        {
            "below" => new StockItemError(
                item.Index, item.Sku, $"items[{item.Index}].quantityChange",
                $"A change of {item.Quantity} would take {item.Sku} in {item.Warehouse} below zero ({before} on hand)."),
            "overflow" => new StockItemError(item.Index, item.Sku, $"items[{item.Index}].quantityChange", "The change overflows the quantity on hand."),
            _ => new StockItemError(item.Index, item.Sku, $"items[{item.Index}].unitPrice", "unitPrice and currency are required for stock not reported before."),
        };

        /// <summary>
        /// The rows to stage: every valid item, and every other level the update mentions (an item with an error),
        /// which a snapshot must leave as it was.
        /// </summary>
        private List<StageRow> Stage()
        {
            var rows = new List<StageRow>(candidates.Count + mentioned.Count);
            foreach (var item in candidates)
            {
                rows.Add(new StageRow(item.Index, item.Sku, item.Warehouse, true, item.Quantity, item.UnitPrice, item.Currency, item.LeadTimeDays, item.MinimumOrderQuantity));
            }

            if (mentioned.Count == 0)
            {
                return rows;
            }

            var validKeys = candidates.Select(c => (c.Sku, c.Warehouse)).ToHashSet();
            foreach (var key in mentioned)
            {
                if (!validKeys.Contains(key))
                {
                    rows.Add(new StageRow(-1, key.Item1, key.Item2, false, null, null, null, null, null));
                }
            }

            return rows;
        }

        private static NpgsqlBatchCommand InsertStage(List<StageRow> rows)
        {
            var insert = new NpgsqlBatchCommand("""
                INSERT INTO feed_stage (idx, sku, warehouse, valid, qty, unit_price, currency, lead_time_days, moq)
                SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::bool[], $5::bigint[], $6::numeric[], $7::text[], $8::int[], $9::bigint[])
                """);
            insert.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Index).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Sku).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Warehouse).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Valid).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Quantity).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            insert.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.UnitPrice).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Numeric });
            insert.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Currency).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.LeadTimeDays).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            insert.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.MinimumOrderQuantity).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            return insert;
        }

        /// <summary>
        /// Fills the stage by binary COPY. The fields are written synchronously: a write only copies into the importer's
        /// buffer, and a full buffer goes to PostgreSQL's socket, which the server drains as it copies. With an awaited write
        /// per field (nine a row, 45,000 for a 5,000-item snapshot) filling the stage took a fifth to a third of the
        /// update's time in the service (docs/benchmarks.md, "Feed ingest, 2026-12-06").
        /// </summary>
        private async Task CopyAsync(List<StageRow> rows, CancellationToken cancellationToken)
        {
            await using var importer = await unit.Connection.BeginBinaryImportAsync(
                "COPY feed_stage (idx, sku, warehouse, valid, qty, unit_price, currency, lead_time_days, moq) FROM STDIN (FORMAT BINARY)", cancellationToken);
            foreach (var row in rows)
            {
                importer.StartRow();
                importer.Write(row.Index, NpgsqlDbType.Integer);
                importer.Write(row.Sku, NpgsqlDbType.Text);
                importer.Write(row.Warehouse, NpgsqlDbType.Text);
                importer.Write(row.Valid, NpgsqlDbType.Boolean);
                WriteNullable(importer, row.Quantity, NpgsqlDbType.Bigint);
                WriteNullable(importer, row.UnitPrice, NpgsqlDbType.Numeric);
                WriteNullable(importer, row.Currency, NpgsqlDbType.Text);
                WriteNullable(importer, row.LeadTimeDays, NpgsqlDbType.Integer);
                WriteNullable(importer, row.MinimumOrderQuantity, NpgsqlDbType.Bigint);
            }

            await importer.CompleteAsync(cancellationToken);
        }

        private static void WriteNullable<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type)
        {
            if (value is null)
            {
                importer.WriteNull();
            }
            else
            {
                importer.Write(value, type);
            }
        }
    }

    /// <summary>A row of <c>feed_stage</c>: a valid item, or (not valid) a level mentioned by an item with an error.</summary>
    private sealed record StageRow(
        int Index, string Sku, string Warehouse, bool Valid, long? Quantity, decimal? UnitPrice, string? Currency, int? LeadTimeDays, long? MinimumOrderQuantity);
}
