using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Brokering.Contracts.Inventory;
using Brokering.Inventory.Data;
using Brokering.Inventory.DistributorWebhooks;
using Brokering.Messaging.Postgres;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Brokering.Inventory.Holds;

/// <summary>
/// One batch of PlaceHolds calls applied in one transaction and one round trip. Each hold is granted exactly what one
/// conditional <c>UPDATE … SET held = held + LEAST(wanted, available) WHERE available &gt; 0</c> per line, one after
/// another, would grant, computed from the locked rows, so no unit is ever held twice and none beyond what is on hand,
/// whoever else is holding (the other replica included). Level locks are taken in key order.
/// </summary>
internal sealed class HoldBatch(IOptions<InventoryOptions> options)
{
    // Spans on the holds' own source (exported with the services' "Brokering.*" sources).
    private static readonly ActivitySource Tracing = new("Brokering.Inventory.Holds");

    // What the last batch's statement saw: whether some distributor subscribes to webhooks, so HoldsPlaced is worth
    // serialising for the next batch. Only a hint: a batch that serialised nothing claims its keys only while nobody
    // subscribes (read after the announcements' share lock), and is placed again, announced, when a subscription turns
    // out to exist (HoldAnnouncements); a batch that serialised for nobody writes nothing of it.
    private volatile bool someoneMaySubscribe = true;

    /// <summary>
    /// Places the holds of every command of a batch inside one transaction; one result per command, in order.
    /// <paramref name="callers"/> holds each command's caller span, so its HoldsPlaced continues the caller's trace.
    /// One round trip: BEGIN, the idempotency claims (no level locked yet), the recorded results of the keys placed
    /// before, one statement that locks the levels in key order, grants, inserts the hold rows, records the results and
    /// writes the outbox rows, and COMMIT. A hot level is locked for that statement and the commit.
    /// </summary>
    internal async Task<PlaceHoldsResult[]> PlaceAsync(
        RawUnitOfWork unit, IReadOnlyList<PlaceHoldsCommand> commands, IReadOnlyList<ActivityContext> callers, CancellationToken cancellationToken)
    {
        var results = new PlaceHoldsResult?[commands.Count];
        var firstIndex = new Dictionary<(Guid, int), int>();
        for (var i = 0; i < commands.Count; i++)
        {
            firstIndex.TryAdd((commands[i].ReservationId, commands[i].PlanVersion), i);
        }

        var candidates = firstIndex.Values.ToList();
        var announcing = someoneMaySubscribe;
        if (announcing)
        {
            await SerialiseHoldsPlacedAsync(unit, commands, callers, candidates, cancellationToken);
        }

        var (placed, replayed, someoneSubscribes) = await PlaceAndCommitAsync(unit, commands, candidates, announcing, cancellationToken);
        int Unsettled() => candidates.Count - placed.Count - replayed.Count;
        if (!announcing && Unsettled() > 0)
        {
            // The claims held back: a subscription exists that this replica did not know of, and the batch placed nothing.
            // Placed again, announced.
            someoneMaySubscribe = announcing = true;
            await SerialiseHoldsPlacedAsync(unit, commands, callers, candidates, cancellationToken);
            (placed, replayed, someoneSubscribes) = await PlaceAndCommitAsync(unit, commands, candidates, announcing, cancellationToken);
        }

        if (Unsettled() > 0)
        {
            throw new InvalidOperationException($"{Unsettled()} call(s) of the batch were neither placed nor found placed before.");
        }

        if (someoneSubscribes is { } known)
        {
            someoneMaySubscribe = known;
        }

        foreach (var (index, holds) in placed)
        {
            results[index] = new PlaceHoldsResult(holds, Replayed: false);
        }

        foreach (var (key, result) in replayed)
        {
            results[firstIndex[key]] = result;
        }

        // Calls repeated within the batch replay the first one's result.
        for (var i = 0; i < commands.Count; i++)
        {
            var first = firstIndex[(commands[i].ReservationId, commands[i].PlanVersion)];
            results[i] ??= results[first]! with { Replayed = true };
        }

        return results.Select(r => r!).ToArray();
    }

    /// <summary>
    /// Which keys this transaction will own is known only once the claims ran, in the same round trip as the holds:
    /// every distinct call's HoldsPlaced is serialised beforehand, with no holds yet (the statement writes them into the
    /// body, and writes no row for a call that turns out to be a replay). One source per reservation, so the relay sends
    /// different reservations' events in parallel.
    /// </summary>
    private static async Task SerialiseHoldsPlacedAsync(
        RawUnitOfWork unit, IReadOnlyList<PlaceHoldsCommand> commands, IReadOnlyList<ActivityContext> callers, List<int> candidates, CancellationToken cancellationToken)
    {
        foreach (var index in candidates)
        {
            var command = commands[index];
            unit.Outbox.StartSource();
            using var span = Tracing.StartActivity("publish HoldsPlaced", ActivityKind.Internal, callers[index]);
            await unit.Outbox.PublishEndpoint.Publish(new HoldsPlaced(command.ReservationId, command.PlanVersion, [], command.ExpiresAt), cancellationToken);
        }
    }

    /// <summary>
    /// <see cref="KeyLookups"/> for the rest of the transaction (as <c>set_config(…, true)</c>, which is <c>SET LOCAL</c>)
    /// and the announcements' share lock, in one statement.
    /// </summary>
    private const string KeyLookupsAndAnnouncementsLock = "SELECT " + KeyLookups.SetLocalCalls + ", " + HoldAnnouncements.ShareLock;

    /// <summary>The recorded results of keys placed before; $1 reservations, $2 plan versions.</summary>
    internal const string RecordedResultsSql = """
        SELECT k.r, k.v, h.result::text
        FROM unnest($1::uuid[], $2::int[]) AS k(r, v)
        CROSS JOIN LATERAL (SELECT h.result, h.xmin FROM hold_requests h WHERE h.reservation_id = k.r AND h.plan_version = k.v OFFSET 0) h
        -- _if_assigned: a batch whose claims all conflicted has written nothing, and asking for its id would make its
        -- COMMIT wait for a WAL flush; with no id, every row is another's.
        WHERE h.xmin IS DISTINCT FROM pg_current_xact_id_if_assigned()::xid
        """;

    /// <summary>
    /// Inserts the idempotency rows of the batch's keys; the rows inserted are the keys this transaction owns, the others
    /// were placed before. A concurrent claim of the same key waits here, on the key, until the other commits, so the
    /// statements after it see the other's recorded result. Sorted, so two transactions claiming overlapping keys wait in
    /// one direction only.
    /// </summary>
    /// <remarks>
    /// A batch that serialised no HoldsPlaced (<paramref name="announcing"/> false) claims nothing while some distributor
    /// subscribes, as this statement sees the table after the announcements' share lock: it then places nothing, and is
    /// placed again, announced.
    /// </remarks>
    private static NpgsqlBatchCommand Claim(DateTimeOffset now, Guid[] reservations, int[] versions, bool announcing)
    {
        var claim = new NpgsqlBatchCommand($$"""
            INSERT INTO hold_requests (reservation_id, plan_version, result, created_at)
            SELECT k.r, k.v, '[]'::jsonb, $1 FROM unnest($2::uuid[], $3::int[]) AS k(r, v)
            WHERE $4 OR NOT {{HoldAnnouncements.SomeoneSubscribesSql}}
            ORDER BY k.r, k.v
            ON CONFLICT DO NOTHING
            RETURNING reservation_id, plan_version
            """);
        claim.Parameters.Add(new NpgsqlParameter { Value = now });
        claim.Parameters.Add(new NpgsqlParameter { Value = reservations });
        claim.Parameters.Add(new NpgsqlParameter { Value = versions });
        claim.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = announcing });
        return claim;
    }

    /// <summary>
    /// The recorded results of the keys the claim found placed before (rows not written by this transaction). Each key is
    /// looked up on its own, for the reason given on <see cref="HoldSql"/>.
    /// </summary>
    private static NpgsqlBatchCommand RecordedResults(Guid[] reservations, int[] versions)
    {
        var recorded = new NpgsqlBatchCommand(RecordedResultsSql);
        recorded.Parameters.Add(new NpgsqlParameter { Value = reservations });
        recorded.Parameters.Add(new NpgsqlParameter { Value = versions });
        return recorded;
    }

    /// <summary>
    /// The whole batch in one statement, sent with its COMMIT. The levels are locked in key order (<c>ORDER BY … FOR
    /// UPDATE</c> sorts before it locks, and a locked row is read at its latest committed version); the lines of one level
    /// are then granted in order by a recursive fold over what remains (what one conditional UPDATE per line did, one
    /// after another); each level is updated once by the sum of its grants; the granted lines become hold rows; each
    /// call's result is recorded for replays, and its HoldsPlaced outbox row is written with the holds set into the body
    /// serialised beforehand. A hot level is locked for this one round trip and the commit.
    /// </summary>
    /// <remarks>
    /// <b>Every row found by key or ctid, never by a scan.</b> These statements are prepared, and the plan PostgreSQL caches
    /// is costed on the statistics of the moment: made while <c>hold_requests</c> was small (a fresh database, before
    /// autovacuum's first ANALYZE), it read the whole table into a hash for every batch once the table had grown, 4–80 ms
    /// a batch at 50,000 requests, with the hot level locked meanwhile (auto_explain; docs/benchmarks.md). So each call's
    /// request is looked up on its own (a <c>LATERAL … OFFSET 0</c>, planned alone, for one key), its result recorded
    /// through the ctid read there, and the transaction runs with <c>enable_seqscan</c> off: a lookup of one key or one
    /// ctid has no plan but an index or TID fetch, however small the table looked when it was planned.
    /// </remarks>
    internal const string HoldSql = $$"""
        WITH RECURSIVE
        commands AS MATERIALIZED (
            SELECT c.*, h.request
            FROM unnest($15::int[], $16::uuid[], $17::int[], $18::text[], $40::text[]) AS c(cmd, reservation_id, plan_version, expires_at, buyer_organisation)
            CROSS JOIN LATERAL (SELECT h.ctid AS request, h.xmin FROM hold_requests h
                                WHERE h.reservation_id = c.reservation_id AND h.plan_version = c.plan_version OFFSET 0) h
            -- Only the calls whose key the claim just before inserted (its row carries this transaction's id): the others were
            -- placed before and are replayed from their recorded results.
            WHERE h.xmin = pg_current_xact_id_if_assigned()::xid),
        lines AS (
            SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::numeric[], $7::uuid[], $8::uuid[], $9::int[],
                                 $10::timestamptz[], $13::int[], $14::int[])
                AS l(ord, distributor_id, sku, warehouse, quantity, max_price, hold_id, reservation_id, plan_version, expires_at, cmd, pos)
            WHERE l.cmd IN (SELECT c.cmd FROM commands c)),
        locked AS MATERIALIZED (
            SELECT s.distributor_id::text AS distributor_id, s.sku::text AS sku, s.warehouse::text AS warehouse,
                   s.on_hand - s.held - s.committed AS available, s.unit_price, s.currency, s.minimum_order_quantity AS moq
            FROM stock_levels s JOIN distributors d ON d.id = s.distributor_id
            WHERE (s.distributor_id, s.sku, s.warehouse) IN (SELECT l.distributor_id, l.sku, l.warehouse FROM lines l)
              -- Fresh and whole only, as offered: a plan made from offers read before the feed went stale or skipped a
              -- delta must not hold levels that lack a change the distributor reported.
              AND d.last_feed_at > $11 AND NOT d.gap_open
            ORDER BY s.distributor_id COLLATE "C", s.sku COLLATE "C", s.warehouse COLLATE "C"
            FOR UPDATE OF s),
        ranked AS MATERIALIZED (
            SELECT l.*, k.available, k.unit_price, k.currency, k.moq,
                   row_number() OVER (PARTITION BY l.distributor_id, l.sku, l.warehouse ORDER BY l.ord) AS n
            FROM lines l JOIN locked k ON k.distributor_id = l.distributor_id AND k.sku = l.sku AND k.warehouse = l.warehouse),
        fold AS (
            SELECT r.ord, r.distributor_id, r.sku, r.warehouse, r.n, g.granted, r.available - g.granted AS remaining
            FROM ranked r
            CROSS JOIN LATERAL (SELECT CASE WHEN r.available > 0 AND LEAST(r.quantity, r.available) >= r.moq
                                             AND (r.max_price IS NULL OR r.unit_price <= r.max_price)
                                            THEN LEAST(r.quantity, r.available) ELSE 0 END AS granted) g
            WHERE r.n = 1
            UNION ALL
            SELECT r.ord, r.distributor_id, r.sku, r.warehouse, r.n, g.granted, f.remaining - g.granted
            FROM fold f
            JOIN ranked r ON r.distributor_id = f.distributor_id AND r.sku = f.sku AND r.warehouse = f.warehouse AND r.n = f.n + 1
            CROSS JOIN LATERAL (SELECT CASE WHEN f.remaining > 0 AND LEAST(r.quantity, f.remaining) >= r.moq
                                             AND (r.max_price IS NULL OR r.unit_price <= r.max_price)
                                            THEN LEAST(r.quantity, f.remaining) ELSE 0 END AS granted) g),
        totals AS (
            SELECT distributor_id, sku, warehouse, sum(granted)::bigint AS granted FROM fold
            GROUP BY distributor_id, sku, warehouse HAVING sum(granted) > 0),
        updated AS (
            UPDATE stock_levels s SET held = s.held + t.granted, last_granted = t.granted
            FROM totals t WHERE s.distributor_id = t.distributor_id AND s.sku = t.sku AND s.warehouse = t.warehouse
            RETURNING 1),
        inserted AS (
            INSERT INTO holds (id, reservation_id, plan_version, distributor_id, sku, warehouse, quantity, unit_price, currency, buyer_organisation, status, expires_at, created_at)
            SELECT r.hold_id, r.reservation_id, r.plan_version, r.distributor_id, r.sku, r.warehouse, f.granted, r.unit_price, r.currency, c.buyer_organisation, 'Active', r.expires_at, $12
            FROM fold f JOIN ranked r ON r.ord = f.ord JOIN commands c ON c.cmd = r.cmd WHERE f.granted > 0
            RETURNING 1),
        per_line AS (
            SELECT l.cmd, l.pos, l.hold_id, l.sku, l.distributor_id, l.warehouse, l.quantity, coalesce(f.granted, 0) > 0 AS granted,
                   coalesce(f.granted, 0) AS held, r.unit_price, r.currency
            FROM lines l LEFT JOIN fold f ON f.ord = l.ord LEFT JOIN ranked r ON r.ord = l.ord),
        per_command AS (
            SELECT p.cmd,
                   -- PlacedHoldResult as System.Text.Json writes it (replays read it back)
                   jsonb_agg(jsonb_build_object(
                       'HoldId', CASE WHEN p.granted THEN p.hold_id END, 'Sku', p.sku, 'DistributorId', p.distributor_id,
                       'Warehouse', p.warehouse, 'Requested', p.quantity, 'Held', p.held,
                       'UnitPrice', CASE WHEN p.granted THEN p.unit_price ELSE 0 END, 'Currency', CASE WHEN p.granted THEN p.currency ELSE '' END,
                       'ExpiresAt', c.expires_at) ORDER BY p.pos) AS result,
                   -- HoldsPlaced.Holds as MassTransit's serializer writes PlacedHold (camelCase)
                   jsonb_agg(jsonb_build_object(
                       'holdId', CASE WHEN p.granted THEN p.hold_id ELSE '00000000-0000-0000-0000-000000000000'::uuid END, 'sku', p.sku,
                       'distributorId', p.distributor_id, 'warehouse', p.warehouse, 'requested', p.quantity, 'held', p.held,
                       'unitPrice', CASE WHEN p.granted THEN p.unit_price ELSE 0 END, 'currency', CASE WHEN p.granted THEN p.currency ELSE '' END)
                       ORDER BY p.pos) AS event_holds
            FROM per_line p JOIN commands c ON c.cmd = p.cmd
            GROUP BY p.cmd),
        recorded AS (
            -- By the ctids read above (rows this transaction inserted, which nobody else can change before it commits),
            -- fetched as a list rather than joined: the one plan left is a fetch per row.
            UPDATE hold_requests h
            SET result = (SELECT pc.result FROM commands c JOIN per_command pc ON pc.cmd = c.cmd WHERE c.request = h.ctid)
            WHERE h.ctid = ANY (ARRAY(SELECT c.request FROM commands c))
            RETURNING 1),
        sources AS (
            INSERT INTO outbox_state (outbox_id, lock_id, created)
            SELECT u.outbox_id, u.lock_id, u.created FROM unnest($19::uuid[], $20::uuid[], $21::timestamptz[]) WITH ORDINALITY AS u(outbox_id, lock_id, created, n)
            WHERE u.n - 1 IN (SELECT c.cmd FROM commands c) AND {{HoldAnnouncements.SomeoneSubscribesSql}}
            RETURNING 1),
        messages AS (
            INSERT INTO outbox_message (outbox_id, message_id, sent_time, enqueue_time, expiration_time, headers, properties, content_type, message_type, body,
                                        conversation_id, correlation_id, initiator_id, request_id, source_address, destination_address, response_address, fault_address)
            SELECT u.outbox_id, u.message_id, u.sent_time, u.enqueue_time, u.expiration_time, u.headers, u.properties, u.content_type, u.message_type,
                   jsonb_set(u.body::jsonb, '{message,holds}', pc.event_holds)::text,
                   u.conversation_id, u.correlation_id, u.initiator_id, u.request_id, u.source_address, u.destination_address, u.response_address, u.fault_address
            FROM unnest($22::uuid[], $23::uuid[], $24::timestamptz[], $25::timestamptz[], $26::timestamptz[], $27::text[], $28::text[], $29::text[], $30::text[],
                        $31::text[], $32::uuid[], $33::uuid[], $34::uuid[], $35::uuid[], $36::text[], $37::text[], $38::text[], $39::text[])
                 WITH ORDINALITY AS u(outbox_id, message_id, sent_time, enqueue_time, expiration_time, headers, properties, content_type, message_type, body,
                                      conversation_id, correlation_id, initiator_id, request_id, source_address, destination_address, response_address, fault_address, n)
            JOIN per_command pc ON pc.cmd = u.n - 1
            WHERE {{HoldAnnouncements.SomeoneSubscribesSql}}
            ORDER BY u.n
            RETURNING 1)
        SELECT f.ord, f.granted, r.unit_price, r.currency, {{HoldAnnouncements.SomeoneSubscribesSql}} AS someone_subscribes
        FROM fold f JOIN ranked r ON r.ord = f.ord
        """;

    /// <summary>
    /// Claims the keys of <paramref name="toPlace"/> (the batch's distinct calls), reads the results of those placed
    /// before, grants every line of the others and commits, in one round trip (see <see cref="HoldSql"/>).
    /// </summary>
    private async Task<(List<(int Index, List<PlacedHoldResult> Holds)> Placed, List<((Guid, int) Key, PlaceHoldsResult Result)> Replayed, bool? SomeoneSubscribes)>
        PlaceAndCommitAsync(RawUnitOfWork unit, IReadOnlyList<PlaceHoldsCommand> commands, List<int> toPlace, bool announcing, CancellationToken cancellationToken)
    {
        var (states, messages) = unit.Outbox.Rows;
        var expected = announcing ? toPlace.Count : 0;
        if (messages.Count != expected || states.Count != expected)
        {
            throw new InvalidOperationException($"Expected {expected} HoldsPlaced source(s) for {toPlace.Count} call(s), captured {messages.Count} in {states.Count}.");
        }

        bool? someoneSubscribes = null;

        var reservations = toPlace.Select(i => commands[i].ReservationId).ToArray();
        var versions = toPlace.Select(i => commands[i].PlanVersion).ToArray();
        var claimed = new HashSet<(Guid, int)>();
        var replayed = new List<((Guid, int), PlaceHoldsResult)>();

        var lines = toPlace
            .SelectMany((index, slot) => commands[index].Holds.Select((line, position) =>
                (Index: index, Slot: slot, Position: position, Line: Normalise(line), HoldId: Guid.CreateVersion7(unit.Now))))
            .OrderBy(l => l.Line.DistributorId, StringComparer.Ordinal)
            .ThenBy(l => l.Line.Sku, StringComparer.Ordinal)
            .ThenBy(l => l.Line.Warehouse, StringComparer.Ordinal)
            .ThenBy(l => l.Index)
            .ThenBy(l => l.Position)
            .ToList();
        var granted = new (long Held, decimal UnitPrice, string Currency)?[lines.Count];
        await using (var batch = unit.Connection.CreateBatch())
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
            batch.BatchCommands.Add(new NpgsqlBatchCommand(KeyLookupsAndAnnouncementsLock));
            batch.BatchCommands.Add(Claim(unit.Now, reservations, versions, announcing));
            batch.BatchCommands.Add(RecordedResults(reservations, versions));
            var hold = new NpgsqlBatchCommand(HoldSql);
            var p = hold.Parameters;
            p.Add(Array(Enumerable.Range(0, lines.Count)));
            p.Add(Array(lines.Select(l => l.Line.DistributorId)));
            p.Add(Array(lines.Select(l => l.Line.Sku)));
            p.Add(Array(lines.Select(l => l.Line.Warehouse)));
            p.Add(Array(lines.Select(l => l.Line.Quantity)));
            p.Add(Array(lines.Select(l => l.Line.MaxUnitPrice), NpgsqlDbType.Numeric));
            p.Add(Array(lines.Select(l => l.HoldId)));
            p.Add(Array(lines.Select(l => commands[l.Index].ReservationId)));
            p.Add(Array(lines.Select(l => commands[l.Index].PlanVersion)));
            p.Add(Array(lines.Select(l => commands[l.Index].ExpiresAt), NpgsqlDbType.TimestampTz));
            p.Add(new NpgsqlParameter { Value = unit.Now - options.Value.StaleAfter });
            p.Add(new NpgsqlParameter { Value = unit.Now });
            p.Add(Array(lines.Select(l => l.Slot)));
            p.Add(Array(lines.Select(l => l.Position)));
            p.Add(Array(Enumerable.Range(0, toPlace.Count)));
            p.Add(new NpgsqlParameter { Value = reservations });
            p.Add(new NpgsqlParameter { Value = versions });
            // Written by .NET, so a replay reads back exactly the instant the call asked for.
            p.Add(Array(toPlace.Select(i => commands[i].ExpiresAt.ToString("O", CultureInfo.InvariantCulture))));
            p.Add(Array(states.Select(x => x.OutboxId)));
            p.Add(Array(states.Select(x => x.LockId)));
            p.Add(Array(states.Select(x => x.Created), NpgsqlDbType.TimestampTz));
            p.Add(Array(messages.Select(x => x.OutboxId), NpgsqlDbType.Uuid));
            p.Add(Array(messages.Select(x => x.MessageId)));
            p.Add(Array(messages.Select(x => x.SentTime), NpgsqlDbType.TimestampTz));
            p.Add(Array(messages.Select(x => x.EnqueueTime), NpgsqlDbType.TimestampTz));
            p.Add(Array(messages.Select(x => x.ExpirationTime), NpgsqlDbType.TimestampTz));
            p.Add(Array(messages.Select(x => x.Headers), NpgsqlDbType.Text));
            p.Add(Array(messages.Select(x => x.Properties), NpgsqlDbType.Text));
            p.Add(Array(messages.Select(x => x.ContentType), NpgsqlDbType.Text));
            p.Add(Array(messages.Select(x => x.MessageType), NpgsqlDbType.Text));
            p.Add(Array(messages.Select(x => x.Body), NpgsqlDbType.Text));
            p.Add(Array(messages.Select(x => x.ConversationId), NpgsqlDbType.Uuid));
            p.Add(Array(messages.Select(x => x.CorrelationId), NpgsqlDbType.Uuid));
            p.Add(Array(messages.Select(x => x.InitiatorId), NpgsqlDbType.Uuid));
            p.Add(Array(messages.Select(x => x.RequestId), NpgsqlDbType.Uuid));
            p.Add(Array(messages.Select(x => x.SourceAddress?.ToString()), NpgsqlDbType.Text));
            p.Add(Array(messages.Select(x => x.DestinationAddress?.ToString()), NpgsqlDbType.Text));
            p.Add(Array(messages.Select(x => x.ResponseAddress?.ToString()), NpgsqlDbType.Text));
            p.Add(Array(messages.Select(x => x.FaultAddress?.ToString()), NpgsqlDbType.Text));
            p.Add(Array(toPlace.Select(i => commands[i].BuyerOrganisation), NpgsqlDbType.Text));
            batch.BatchCommands.Add(hold);
            batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));

            // One result set per statement that returns rows: the settings and the announcements' lock, the claims, the recorded results, the grants.
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add((reader.GetGuid(0), reader.GetInt32(1)));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var holds = JsonSerializer.Deserialize<List<PlacedHoldResult>>(reader.GetString(2)) ?? [];
                replayed.Add(((reader.GetGuid(0), reader.GetInt32(1)), new PlaceHoldsResult(holds, Replayed: true)));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                granted[reader.GetInt32(0)] = (reader.GetInt64(1), reader.GetDecimal(2), reader.GetString(3));
                someoneSubscribes = reader.GetBoolean(4);
            }

            // The COMMIT's answer: no result is given back before the transaction is durable.
            while (await reader.NextResultAsync(cancellationToken))
            {
            }
        }

        var placed = toPlace
            .Where(i => claimed.Contains((commands[i].ReservationId, commands[i].PlanVersion)))
            .ToDictionary(i => i, i => new PlacedHoldResult?[commands[i].Holds.Count]);
        for (var i = 0; i < lines.Count; i++)
        {
            var (index, _, position, line, holdId) = lines[i];
            if (!placed.ContainsKey(index))
            {
                continue;
            }

            var expiresAt = commands[index].ExpiresAt;
            placed[index][position] = granted[i] is { Held: > 0 } grant
                ? new PlacedHoldResult(holdId, line.Sku, line.DistributorId, line.Warehouse, line.Quantity, grant.Held, grant.UnitPrice, grant.Currency, expiresAt)
                : new PlacedHoldResult(null, line.Sku, line.DistributorId, line.Warehouse, line.Quantity, 0, 0m, string.Empty, expiresAt);
        }

        return (placed.Select(p => (p.Key, p.Value.Select(h => h!).ToList())).ToList(), replayed, someoneSubscribes);
    }

    private static NpgsqlParameter Array<T>(IEnumerable<T> values, NpgsqlDbType? elementType = null) =>
        elementType is { } type ? new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | type } : new() { Value = values.ToArray() };

    private static HoldLine Normalise(HoldLine line) =>
        line with { Sku = line.Sku.Trim(), DistributorId = line.DistributorId.Trim(), Warehouse = line.Warehouse.Trim() };

}
