using System.Diagnostics;
using System.Text.RegularExpressions;
using Brokering.Inventory.Data;
using Brokering.Inventory.Holds;
using Brokering.Messaging.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Brokering.Inventory.Tests;

/// <summary>
/// A batch of PlaceHolds calls is applied by one statement; these tests drive one batch directly and check that it
/// grants exactly what one conditional UPDATE per line, applied one after another in key order, would have granted.
/// </summary>
public sealed class HoldBatchTests(InventoryFixture fixture)
{
    private const string A800 = "NVIDIA-A800-SXM4-80GB";
    private const string H800 = "NVIDIA-H800-SXM5-80GB";

    [Fact]
    public async Task One_batch_grants_the_lines_of_one_level_in_order_skipping_lines_below_the_minimum_or_above_the_price_ceiling()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 10, Price: 1000m, Moq: 3), new Stock(H800, "SG1", 5, Price: 2000m));
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10);
        PlaceHoldsCommand Call(params HoldLine[] lines) => new(Guid.NewGuid(), 1, expiresAt, lines);
        HoldLine Line(string sku, long quantity, decimal? max = null) => new(sku, distributor, "SG1", quantity, max);

        var first = Call(Line(A800, 4));
        PlaceHoldsCommand[] commands =
        [
            first,                                   // 4 of 10
            Call(Line(A800, 5, max: 500m)),          // above the ceiling: nothing, and nothing consumed
            Call(Line(A800, 2)),                     // below the minimum of 3: nothing
            Call(Line(A800, 5)),                     // 5 of the 6 left
            Call(Line(H800, 2), Line(A800, 3)),      // H800: 2; A800: only 1 left, below the minimum
            first,                                   // the same call twice in one batch: a replay
        ];

        var results = await PlaceBatchAsync(fixture.A, commands);

        results.Select(r => r.Holds.Sum(h => h.Held)).ShouldBe([4L, 0L, 0L, 5L, 2L, 4L]);
        results[4].Holds.Select(h => (h.Sku, h.Held)).ShouldBe([(H800, 2L), (A800, 0L)]);
        results[4].Holds[1].HoldId.ShouldBeNull();
        results.Take(5).ShouldAllBe(r => !r.Replayed);
        results[5].Replayed.ShouldBeTrue();
        results[5].Holds.Single().HoldId.ShouldBe(results[0].Holds.Single().HoldId);
        results[3].Holds.Single().UnitPrice.ShouldBe(1000m);
        var a800 = await fixture.LevelAsync(distributor, A800, "SG1");
        (a800.Held, a800.ActiveHolds).ShouldBe((9L, 9L));
        var h800 = await fixture.LevelAsync(distributor, H800, "SG1");
        (h800.Held, h800.ActiveHolds).ShouldBe((2L, 2L));
    }

    [Fact]
    public async Task A_batch_repeated_after_it_committed_replays_every_recorded_result_and_holds_nothing_more()
    {
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 6));
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10);
        PlaceHoldsCommand[] commands =
        [
            new(Guid.NewGuid(), 2, expiresAt, [new HoldLine(A800, distributor, "SG1", 4, null)]),
            new(Guid.NewGuid(), 2, expiresAt, [new HoldLine(A800, distributor, "SG1", 4, null)]),
        ];

        var first = await PlaceBatchAsync(fixture.A, commands);
        var again = await PlaceBatchAsync(fixture.B, commands);

        first.Select(r => r.Holds.Single().Held).ShouldBe([4L, 2L]);
        again.ShouldAllBe(r => r.Replayed);
        again.Select(r => r.Holds.Single()).ShouldBe(first.Select(r => r.Holds.Single()));
        var level = await fixture.LevelAsync(distributor, A800, "SG1");
        (level.Held, level.ActiveHolds).ShouldBe((6L, 6L));
    }

    [Fact]
    public async Task A_batch_reads_hold_requests_by_key_or_ctid_under_a_plan_made_while_the_table_looked_nearly_empty()
    {
        // The statistics of a fresh database before autovacuum's first ANALYZE of a grown table: hold_requests seen with a
        // few rows, and plans cached from then on (generic plans of prepared statements). The batch's statements must
        // fetch their requests by key or ctid all the same, never by reading the whole table.
        await using var connection = new NpgsqlConnection(fixture.Database);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(connection, """
            CREATE TEMP TABLE hold_requests (LIKE public.hold_requests INCLUDING ALL) ON COMMIT DROP;
            INSERT INTO hold_requests (reservation_id, plan_version, result, created_at) SELECT gen_random_uuid(), 1, '[]', now() FROM generate_series(1, 3);
            ANALYZE hold_requests;
            """);
        await using (var settings = connection.CreateBatch())
        {
            KeyLookups.Begin(settings);
            await settings.ExecuteNonQueryAsync();
        }

        foreach (var (name, sql) in new[] { ("hold", HoldBatch.HoldSql), ("recorded", HoldBatch.RecordedResultsSql) })
        {
            await ExecuteAsync(connection, $"PREPARE {name} AS {sql}");
            var parameters = Regex.Matches(sql, @"\$(\d+)").Max(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            var plan = new List<string>();
            await using (var explain = new NpgsqlCommand($"EXPLAIN EXECUTE {name}({string.Join(", ", Enumerable.Repeat("NULL", parameters))})", connection))
            await using (var reader = await explain.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    plan.Add(reader.GetString(0));
                }
            }

            var reads = plan.Select((line, i) => (line, i)).Where(x => Regex.IsMatch(x.line, @"Scan.* on hold_requests")).ToList();
            reads.ShouldNotBeEmpty(name);
            foreach (var (line, i) in reads)
            {
                // Each read of the table is an index scan on a condition or a TID fetch, each followed by its condition.
                line.ShouldMatch(@"(Index Scan using \S+|Tid Scan) on hold_requests", $"{name}: {string.Join('\n', plan)}");
                plan[i + 1].ShouldMatch(@"^\s*(Index Cond|TID Cond):", $"{name}: {string.Join('\n', plan)}");
            }
        }
    }

    [Fact]
    public async Task A_commits_level_locks_and_level_changes_run_one_plan_per_connection()
    {
        // A connection as the service's pool keeps one: statements prepared once they recur. Costed anew for each call's
        // arrays of keys, the lock and the change took PostgreSQL longer to plan than to run, every commit and release.
        var distributor = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(distributor, 1, new Stock(A800, "SG1", 100, Price: 1000m), new Stock(H800, "SG1", 100, Price: 2000m));
        var settings = new NpgsqlConnectionStringBuilder(fixture.Database) { MaxAutoPrepare = 16, AutoPrepareMinUsages = 2 };
        await using var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync();
        const int Commits = 10;
        for (var i = 0; i < Commits; i++)
        {
            await using var batch = connection.CreateBatch();
            batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
            LevelAdjustments.AddTo(batch, [
                new LevelAdjustment(distributor, A800, "SG1", 1, 0),
                new LevelAdjustment(distributor, H800, "SG1", 1, 0)]).ShouldBeTrue();
            batch.BatchCommands.Add(new NpgsqlBatchCommand("ROLLBACK"));
            await batch.ExecuteNonQueryAsync();
        }

        var prepared = new List<(string Statement, long Custom, long Generic)>();
        await using (var read = new NpgsqlCommand(
            "SELECT statement, custom_plans, generic_plans FROM pg_prepared_statements WHERE statement LIKE '%stock_levels%'", connection))
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                prepared.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
            }
        }

        prepared.Count.ShouldBe(2, "the lock and the change, prepared once they recurred");
        prepared.ShouldAllBe(p => p.Custom == 0 && p.Generic > 0, string.Join("\n", prepared));
        (await fixture.LevelAsync(distributor, A800, "SG1")).Held.ShouldBe(0L, "every batch was rolled back");
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static Task<PlaceHoldsResult[]> PlaceBatchAsync(InventoryHost host, IReadOnlyList<PlaceHoldsCommand> commands)
    {
        var batch = host.Services.GetRequiredService<HoldBatch>();
        var transactions = host.Services.GetRequiredService<InventoryTransactions>();
        var callers = commands.Select(_ => default(ActivityContext)).ToList();
        return transactions.RunRawAsync((unit, token) => batch.PlaceAsync(unit, commands, callers, token), CancellationToken.None);
    }
}
