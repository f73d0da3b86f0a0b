using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using Microsoft.Extensions.Options;

namespace Brokering.Inventory.StockFeeds;

/// <summary>
/// Applies distributors' stock updates: the one behaviour behind the gRPC stream, the REST endpoint and
/// the AMQP queue. An update is applied in one transaction with its sequence bump: the distributor's
/// row is locked, the levels it touches are locked in key order, every item is written in one batched
/// upsert, holds the new stock no longer covers are flagged as shortfall, and the resulting events go
/// to the outbox in the same transaction.
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
                "Stock update {DistributorId}#{Sequence} via {Channel} skipped sequences after {Previous}; a snapshot heals the gap",
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
        var mentioned = items
            .Where(i => !string.IsNullOrWhiteSpace(i?.Sku) && !string.IsNullOrWhiteSpace(i.Warehouse))
            .Select(i => (Brokering.Contracts.Sku.Normalize(i!.Sku) ?? i.Sku!.Trim(), i.Warehouse!.Trim()))
            .ToHashSet();
        var distributorId = update.DistributorId!.Trim();

        return await transactions.RunAsync(
            (unit, token) => new Application(unit, options.Value, metrics, distributorId, update.Sequence, kind, items.Count, valid, shapeErrors, mentioned)
                .RunAsync(token),
            cancellationToken);
    }

    private sealed record Level(string Sku, string Warehouse, long OnHand, long Held, long Committed, decimal UnitPrice, string Currency, int LeadTimeDays, long MinimumOrderQuantity)
    {
        public long Available => Math.Max(0, OnHand - Held - Committed);
    }

    private sealed record ActiveHold(Guid Id, Guid ReservationId, string Sku, string Warehouse, long Quantity);

    /// <summary>One attempt at applying one update inside one transaction.</summary>
    private sealed class Application(
        UnitOfWork unit,
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
        private readonly List<StockItemError> errors = [.. shapeErrors];

        public async Task<StockUpdateResult> RunAsync(CancellationToken cancellationToken)
        {
            long lastSequence;
            bool gapOpen;
            DateTimeOffset? lastFeedAt;
            await using (var command = unit.Command("SELECT last_sequence, gap_open, last_feed_at FROM distributors WHERE id = @id FOR UPDATE"))
            {
                command.Parameters.AddWithValue("id", distributorId);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    return StockUpdateResult.Rejected(distributorId, sequence, StockUpdateRejection.UnknownDistributor, $"Distributor '{distributorId}' is not registered.");
                }

                lastSequence = reader.GetInt64(0);
                gapOpen = reader.GetBoolean(1);
                lastFeedAt = reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2);
            }

            if (sequence <= lastSequence)
            {
                return new StockUpdateResult(distributorId, sequence, StockUpdateOutcome.Duplicate, 0, false, false, lastSequence, [], null, StockUpdateRejection.None);
            }

            var gapDetected = lastSequence > 0 && sequence > lastSequence + 1;
            var items = await KnownSkusAsync(cancellationToken);
            var current = await LockLevelsAsync(items, cancellationToken);

            var changes = new Dictionary<(string, string), Level>();
            var applied = 0;
            foreach (var item in items)
            {
                var key = (item.Sku, item.Warehouse);
                current.TryGetValue(key, out var existing);
                if (Next(item, existing) is { } next)
                {
                    changes[key] = next;
                    applied++;
                }
            }

            if (itemCount > 0 && applied == 0)
            {
                return StockUpdateResult.Rejected(
                    distributorId, sequence, StockUpdateRejection.Invalid, "No item of the update is valid; nothing was applied.", Sorted(errors), lastSequence);
            }

            if (kind == StockUpdateKind.Snapshot)
            {
                // The snapshot is the whole truth: what it does not list is gone (but an item it listed
                // with an error is left as it was: the distributor did speak of it).
                foreach (var (key, level) in current)
                {
                    if (!changes.ContainsKey(key) && !mentioned.Contains(key) && level.OnHand != 0)
                    {
                        changes[key] = level with { OnHand = 0 };
                    }
                }
            }

            var shortfalls = await FlagShortfallsAsync(changes, cancellationToken);
            await UpsertAsync(changes.Values, cancellationToken);

            var wasFresh = lastFeedAt is { } at && at > unit.Now - options.StaleAfter;
            await using (var command = unit.Command("UPDATE distributors SET last_sequence = @sequence, last_feed_at = @now, gap_open = @gapOpen WHERE id = @id"))
            {
                command.Parameters.AddWithValue("sequence", sequence);
                command.Parameters.AddWithValue("now", unit.Now);
                command.Parameters.AddWithValue("gapOpen", kind == StockUpdateKind.Delta && (gapOpen || gapDetected));
                command.Parameters.AddWithValue("id", distributorId);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await PublishStockAvailableAsync(current, changes, wasFresh, cancellationToken);
            foreach (var shortfall in shortfalls)
            {
                await unit.Publish.Publish(shortfall, cancellationToken);
            }

            return new StockUpdateResult(
                distributorId, sequence, StockUpdateOutcome.Applied, applied, gapDetected,
                kind == StockUpdateKind.Snapshot && (gapOpen || gapDetected), lastSequence, Sorted(errors), null, StockUpdateRejection.None);
        }

        private static List<StockItemError> Sorted(List<StockItemError> list) => [.. list.OrderBy(e => e.Index)];

        private async Task<List<ValidItem>> KnownSkusAsync(CancellationToken cancellationToken)
        {
            var known = new HashSet<string>(StringComparer.Ordinal);
            await using (var command = unit.Command("SELECT sku FROM skus WHERE sku = ANY(@skus)"))
            {
                command.Parameters.AddWithValue("skus", candidates.Select(i => i.Sku).Distinct().ToArray());
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    known.Add(reader.GetString(0));
                }
            }

            var items = new List<ValidItem>(candidates.Count);
            foreach (var item in candidates)
            {
                if (known.Contains(item.Sku))
                {
                    items.Add(item);
                }
                else
                {
                    errors.Add(new StockItemError(item.Index, item.Sku, $"items[{item.Index}].sku", $"Unknown SKU '{item.Sku}'."));
                }
            }

            return items;
        }

        /// <summary>Locks the levels this update touches (all of the distributor's, for a snapshot) in key order.</summary>
        private async Task<Dictionary<(string, string), Level>> LockLevelsAsync(List<ValidItem> items, CancellationToken cancellationToken)
        {
            const string Columns = "s.sku, s.warehouse, s.on_hand, s.held, s.committed, s.unit_price, s.currency, s.lead_time_days, s.minimum_order_quantity";
            var sql = kind == StockUpdateKind.Snapshot
                ? $"""
                   SELECT {Columns} FROM stock_levels s WHERE s.distributor_id = @d
                   ORDER BY s.sku COLLATE "C", s.warehouse COLLATE "C" FOR UPDATE
                   """
                : $"""
                   SELECT {Columns} FROM stock_levels s
                   JOIN unnest(@skus::text[], @warehouses::text[]) AS k(sku, warehouse) ON k.sku = s.sku AND k.warehouse = s.warehouse
                   WHERE s.distributor_id = @d
                   ORDER BY s.sku COLLATE "C", s.warehouse COLLATE "C" FOR UPDATE OF s
                   """;
            await using var command = unit.Command(sql);
            command.Parameters.AddWithValue("d", distributorId);
            if (kind == StockUpdateKind.Delta)
            {
                command.Parameters.AddWithValue("skus", items.Select(i => i.Sku).ToArray());
                command.Parameters.AddWithValue("warehouses", items.Select(i => i.Warehouse).ToArray());
            }

            var levels = new Dictionary<(string, string), Level>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var level = new Level(
                    reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                    reader.GetDecimal(5), reader.GetString(6), reader.GetInt32(7), reader.GetInt64(8));
                levels[(level.Sku, level.Warehouse)] = level;
            }

            return levels;
        }

        /// <summary>The level after applying <paramref name="item"/>, or null (with an error recorded) when it cannot be applied.</summary>
        private Level? Next(ValidItem item, Level? existing)
        {
            var path = $"items[{item.Index}]";
            long onHand;
            if (kind == StockUpdateKind.Snapshot)
            {
                onHand = item.Quantity;
            }
            else
            {
                var before = existing?.OnHand ?? 0;
                onHand = before + item.Quantity;
                if (item.Quantity < 0 && onHand < 0)
                {
                    errors.Add(new StockItemError(
                        item.Index, item.Sku, $"{path}.quantityChange",
                        $"A change of {item.Quantity} would take {item.Sku} in {item.Warehouse} below zero ({before} on hand)."));
                    return null;
                }

                if (item.Quantity > 0 && onHand < before)
                {
                    errors.Add(new StockItemError(item.Index, item.Sku, $"{path}.quantityChange", "The change overflows the quantity on hand."));
                    return null;
                }
            }

            var price = item.UnitPrice ?? existing?.UnitPrice;
            var currency = item.Currency ?? existing?.Currency;
            if (price is null || currency is null)
            {
                errors.Add(new StockItemError(item.Index, item.Sku, $"{path}.unitPrice", "unitPrice and currency are required for stock not reported before."));
                return null;
            }

            return new Level(
                item.Sku, item.Warehouse, onHand, existing?.Held ?? 0, existing?.Committed ?? 0, price.Value, currency,
                item.LeadTimeDays ?? existing?.LeadTimeDays ?? 0, item.MinimumOrderQuantity ?? existing?.MinimumOrderQuantity ?? 1);
        }

        /// <summary>
        /// Where the new on-hand no longer covers held + committed, flags the youngest active holds as
        /// shortfall until what remains is covered, and gives their units back to the level.
        /// </summary>
        private async Task<List<StockShortfallDetected>> FlagShortfallsAsync(
            Dictionary<(string, string), Level> changes, CancellationToken cancellationToken)
        {
            var deficits = changes
                .Where(c => c.Value.Held > 0 && c.Value.OnHand < c.Value.Held + c.Value.Committed)
                .ToDictionary(c => c.Key, c => Math.Min(c.Value.Held, c.Value.Held + c.Value.Committed - c.Value.OnHand));
            if (deficits.Count == 0)
            {
                return [];
            }

            var candidatesByLevel = new Dictionary<(string, string), List<ActiveHold>>();
            await using (var command = unit.Command("""
                SELECT h.id, h.reservation_id, h.sku, h.warehouse, h.quantity FROM holds h
                JOIN unnest(@skus::text[], @warehouses::text[]) AS k(sku, warehouse) ON k.sku = h.sku AND k.warehouse = h.warehouse
                WHERE h.distributor_id = @d AND h.status = 'Active'
                ORDER BY h.created_at DESC, h.id DESC
                FOR UPDATE OF h
                """))
            {
                command.Parameters.AddWithValue("d", distributorId);
                command.Parameters.AddWithValue("skus", deficits.Keys.Select(k => k.Item1).ToArray());
                command.Parameters.AddWithValue("warehouses", deficits.Keys.Select(k => k.Item2).ToArray());
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var hold = new ActiveHold(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4));
                    var key = (hold.Sku, hold.Warehouse);
                    if (!candidatesByLevel.TryGetValue(key, out var list))
                    {
                        candidatesByLevel[key] = list = [];
                    }

                    list.Add(hold);
                }
            }

            var flagged = new List<ActiveHold>();
            foreach (var (key, deficit) in deficits)
            {
                long released = 0;
                foreach (var hold in candidatesByLevel.GetValueOrDefault(key) ?? [])
                {
                    if (released >= deficit)
                    {
                        break;
                    }

                    flagged.Add(hold);
                    released += hold.Quantity;
                }

                changes[key] = changes[key] with { Held = changes[key].Held - released };
            }

            if (flagged.Count == 0)
            {
                return [];
            }

            await using (var command = unit.Command("""
                UPDATE holds SET status = 'Shortfall', closed_at = @now, reason = @reason WHERE id = ANY(@ids) AND status = 'Active'
                """))
            {
                command.Parameters.AddWithValue("now", unit.Now);
                command.Parameters.AddWithValue("reason", $"Stock update {distributorId}#{sequence} left fewer units on hand than held.");
                command.Parameters.AddWithValue("ids", flagged.Select(h => h.Id).ToArray());
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            metrics.HoldsShortfall(flagged.Count);
            return flagged
                .GroupBy(h => (h.ReservationId, h.Sku))
                .Select(g => new StockShortfallDetected(g.Key.ReservationId, g.Key.Sku, distributorId, g.Select(h => h.Id).ToList(), g.Sum(h => h.Quantity)))
                .ToList();
        }

        /// <summary>Writes every changed level in one statement.</summary>
        private async Task UpsertAsync(ICollection<Level> levels, CancellationToken cancellationToken)
        {
            if (levels.Count == 0)
            {
                return;
            }

            await using var command = unit.Command("""
                INSERT INTO stock_levels (distributor_id, sku, warehouse, on_hand, held, committed, last_granted, unit_price, currency, lead_time_days, minimum_order_quantity, updated_at)
                SELECT @d, u.sku, u.warehouse, u.on_hand, u.held, 0, 0, u.unit_price, u.currency, u.lead_time_days, u.moq, @now
                FROM unnest(@skus::text[], @warehouses::text[], @onHand::bigint[], @held::bigint[], @prices::numeric[], @currencies::text[], @leadTimes::int[], @moqs::bigint[])
                     AS u(sku, warehouse, on_hand, held, unit_price, currency, lead_time_days, moq)
                ON CONFLICT (distributor_id, sku, warehouse) DO UPDATE SET
                    on_hand = excluded.on_hand, held = excluded.held, unit_price = excluded.unit_price, currency = excluded.currency,
                    lead_time_days = excluded.lead_time_days, minimum_order_quantity = excluded.minimum_order_quantity, updated_at = excluded.updated_at
                """);
            command.Parameters.AddWithValue("d", distributorId);
            command.Parameters.AddWithValue("now", unit.Now);
            command.Parameters.AddWithValue("skus", levels.Select(l => l.Sku).ToArray());
            command.Parameters.AddWithValue("warehouses", levels.Select(l => l.Warehouse).ToArray());
            command.Parameters.AddWithValue("onHand", levels.Select(l => l.OnHand).ToArray());
            command.Parameters.AddWithValue("held", levels.Select(l => l.Held).ToArray());
            command.Parameters.AddWithValue("prices", levels.Select(l => l.UnitPrice).ToArray());
            command.Parameters.AddWithValue("currencies", levels.Select(l => l.Currency).ToArray());
            command.Parameters.AddWithValue("leadTimes", levels.Select(l => l.LeadTimeDays).ToArray());
            command.Parameters.AddWithValue("moqs", levels.Select(l => l.MinimumOrderQuantity).ToArray());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        /// <summary>One <see cref="StockAvailable"/> per SKU whose available units went up in this update.</summary>
        private async Task PublishStockAvailableAsync(
            Dictionary<(string, string), Level> current, Dictionary<(string, string), Level> changes, bool wasFresh, CancellationToken cancellationToken)
        {
            var skus = changes
                .Where(c => c.Value.Available > (wasFresh && current.TryGetValue(c.Key, out var before) ? before.Available : 0))
                .Select(c => c.Key.Item1)
                .Distinct()
                .ToArray();
            if (skus.Length == 0)
            {
                return;
            }

            await using var command = unit.Command("""
                SELECT s.sku, SUM(GREATEST(s.on_hand - s.held - s.committed, 0))::bigint
                FROM stock_levels s JOIN distributors d ON d.id = s.distributor_id
                WHERE s.sku = ANY(@skus) AND d.last_feed_at > @freshAfter
                GROUP BY s.sku
                """);
            command.Parameters.AddWithValue("skus", skus);
            command.Parameters.AddWithValue("freshAfter", unit.Now - options.StaleAfter);
            var events = new List<StockAvailable>();
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    events.Add(new StockAvailable(reader.GetString(0), reader.GetInt64(1), unit.Now));
                }
            }

            foreach (var available in events)
            {
                await unit.Publish.Publish(available, cancellationToken);
            }
        }
    }
}
