using Brokering.Ordering.Activities;
using Brokering.Ordering.Data;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Saga;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The per-buyer cap on a SKU against real PostgreSQL: plans of one buyer that run at the same time cannot together
/// claim more than the cap, and units stop counting when the reservation that claimed them ends or its plan lands.
/// </summary>
public sealed class BuyerSkuClaimTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private long Cap => host.Services.GetRequiredService<IOptions<OrderingOptions>>().Value.MaxUnitsPerBuyerPerSku;

    [Fact]
    public async Task Many_plans_of_one_buyer_for_one_SKU_claiming_at_once_never_get_more_than_the_cap_in_total()
    {
        Cap.ShouldBeGreaterThan(0, "the service is configured with a cap");
        var buyer = Sagas.NewBuyer("cap-race");
        var wanted = Cap / 4;
        var reservations = Enumerable.Range(0, 12).Select(_ => Sagas.In("Allocating", buyer, cutoff: null, quantity: wanted)).ToArray();
        await host.SeedAsync(reservations);

        // Each plan's event keeps its transaction open a moment after claiming, as the real one does while it calls inventory.
        var granted = await Task.WhenAll(reservations.Select(saga => ClaimAsync(saga, planVersion: 1, wanted, TimeSpan.FromMilliseconds(50))));

        granted.Sum().ShouldBe(Cap, string.Join(", ", granted));
        granted.ShouldAllBe(units => units >= 0 && units <= wanted);
        (await ClaimedAsync(buyer)).ShouldBe(Cap);
    }

    [Fact]
    public async Task Units_claimed_by_a_reservation_that_ends_are_given_back_to_the_buyers_next_plan()
    {
        var buyer = Sagas.NewBuyer("cap-release");
        var first = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        var second = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        await host.SeedAsync(first, second);
        (await ClaimAsync(first, planVersion: 1, Cap)).ShouldBe(Cap);
        (await ClaimAsync(second, planVersion: 1, Cap)).ShouldBe(0, "the first reservation's plan is in flight with the whole cap");

        await ChangeSagaAsync(first.CorrelationId, saga => saga.CurrentState = "Cancelled");
        await ChangeSagaAsync(second.CorrelationId, saga => saga.PlanVersion = 2);

        (await ClaimAsync(second, planVersion: 2, Cap)).ShouldBe(Cap);
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        (await db.BuyerSkuClaims.AnyAsync(c => c.ReservationId == first.CorrelationId, TestContext.Current.CancellationToken))
            .ShouldBeFalse("the ended reservation's claim is deleted");
    }

    [Fact]
    public async Task Once_a_plan_has_landed_only_the_units_it_holds_count_against_the_cap_and_the_reservations_own_holds_count_too()
    {
        var buyer = Sagas.NewBuyer("cap-landed");
        var first = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        var second = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        await host.SeedAsync(first, second);
        (await ClaimAsync(first, planVersion: 1, Cap)).ShouldBe(Cap);

        // Inventory held only 300 of the first plan; the reservation waits for stock.
        await ChangeSagaAsync(first.CorrelationId, saga =>
        {
            saga.CurrentState = "AwaitingStock";
            saga.Allocations = [new Allocation(Sagas.Sku, "arrow", "HKG-1", Guid.NewGuid(), 300, 31000m, "USD")];
        });
        (await ClaimAsync(second, planVersion: 1, Cap)).ShouldBe(Cap - 300);

        // The first reservation's top-up finds the cap taken, its own 300 included.
        await ChangeSagaAsync(first.CorrelationId, saga =>
        {
            saga.CurrentState = "Allocating";
            saga.PlanVersion = 2;
        });
        (await ClaimAsync(first, planVersion: 2, Cap - 300)).ShouldBe(0);
    }

    [Fact]
    public async Task Confirmed_units_count_against_the_cap_for_good_once_each_from_the_buyers_running_total()
    {
        var buyer = Sagas.NewBuyer("cap-confirmed");
        var committing = Sagas.In("Confirming", buyer, cutoff: null, Sagas.Sku, 300, "arrow");
        var confirmedBefore = Sagas.In("Confirmed", buyer, cutoff: null, Sagas.Sku, 200, "avnet");
        var next = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        await host.SeedAsync(committing, confirmedBefore, next);
        (await ClaimAsync(next, planVersion: 1, Cap)).ShouldBe(Cap - 500);

        // The commit lands: its 300 units move from the live row to the total in the same transaction, counted once.
        await ChangeSagaAsync(committing.CorrelationId, saga => saga.CurrentState = "Confirmed");
        await ChangeSagaAsync(next.CorrelationId, saga => saga.PlanVersion = 2);
        (await ClaimAsync(next, planVersion: 2, Cap)).ShouldBe(Cap - 500);

        (await ConfirmedTotalAsync(buyer)).ShouldBe(500, "a row inserted confirmed and a row that became confirmed both add to the total");
        // A confirmed reservation touched again (say its history appended) does not add twice.
        await ChangeSagaAsync(committing.CorrelationId, saga => saga.StatusReason = "noted");
        (await ConfirmedTotalAsync(buyer)).ShouldBe(500);
    }

    [Fact]
    public async Task A_confirmation_never_waits_for_an_open_confirmation_of_the_same_buyer_and_SKU_and_each_counts_once()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = Sagas.NewBuyer("cap-at-commit");
        var slow = Sagas.In("Confirming", buyer, cutoff: null, Sagas.Sku, 300, "arrow");
        var quick = Sagas.In("Confirming", buyer, cutoff: null, Sagas.Sku, 200, "avnet");
        await host.SeedAsync(slow, quick);

        // The first confirmation's transaction stays open after its saga row changed, as a consumer's does until its
        // commit; the second must neither wait for it (a lock on a per-buyer total would make it) nor lose its units.
        await using var open = new Npgsql.NpgsqlConnection(host.Database);
        await open.OpenAsync(cancellationToken);
        await using var openTransaction = await open.BeginTransactionAsync(cancellationToken);
        await ConfirmAsync(open, slow.CorrelationId);

        await using (var other = new Npgsql.NpgsqlConnection(host.Database))
        {
            await other.OpenAsync(cancellationToken);
            await using (var timeout = new Npgsql.NpgsqlCommand("SET lock_timeout = '3s'", other))
            {
                await timeout.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var transaction = await other.BeginTransactionAsync(cancellationToken);
            await ConfirmAsync(other, quick.CorrelationId);
            await transaction.CommitAsync(cancellationToken);
        }

        (await ConfirmedTotalAsync(buyer)).ShouldBe(200, "the open confirmation adds nothing before its commit");
        await openTransaction.CommitAsync(cancellationToken);
        (await ConfirmedTotalAsync(buyer)).ShouldBe(500);

        // The next claim folds the confirmations into the buyer's total and counts each once.
        var next = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        await host.SeedAsync(next);
        (await ClaimAsync(next, planVersion: 1, Cap)).ShouldBe(Cap - 500);
        (await ConfirmedTotalAsync(buyer)).ShouldBe(500);
        await ChangeSagaAsync(next.CorrelationId, saga => saga.PlanVersion = 2);
        (await ClaimAsync(next, planVersion: 2, Cap)).ShouldBe(Cap - 500, "folded units count once");

        async Task ConfirmAsync(Npgsql.NpgsqlConnection connection, Guid reservation)
        {
            await using var confirm = new Npgsql.NpgsqlCommand(
                "UPDATE reservation_sagas SET current_state = @confirmed WHERE reservation_id = @id", connection);
            confirm.Parameters.AddWithValue("confirmed", ReservationStates.Declared.Confirmed);
            confirm.Parameters.AddWithValue("id", reservation);
            (await confirm.ExecuteNonQueryAsync(cancellationToken)).ShouldBe(1);
        }
    }

    [Fact]
    public async Task A_plan_that_claims_again_is_given_what_it_was_given_the_first_time()
    {
        var buyer = Sagas.NewBuyer("cap-again");
        var first = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        var second = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        await host.SeedAsync(first, second);
        (await ClaimAsync(first, planVersion: 1, Cap - 10)).ShouldBe(Cap - 10);
        (await ClaimAsync(second, planVersion: 1, 10)).ShouldBe(10);

        (await ClaimAsync(first, planVersion: 1, Cap - 10)).ShouldBe(Cap - 10);
        (await ClaimedAsync(buyer)).ShouldBe(Cap);
    }

    [Fact]
    public async Task A_claim_made_before_its_reservation_has_a_saga_row_counts_against_the_buyers_other_plans()
    {
        // The event that creates a reservation plans it at once, before its saga row is committed.
        var buyer = Sagas.NewBuyer("cap-unborn");
        var unborn = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        var second = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        await host.SeedAsync(second);

        (await ClaimAsync(unborn, planVersion: 1, Cap - 100)).ShouldBe(Cap - 100);

        (await ClaimAsync(second, planVersion: 1, Cap)).ShouldBe(100);
    }

    [Fact]
    public async Task A_claim_does_not_wait_for_another_plan_of_the_buyer_whose_event_is_still_open()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = Sagas.NewBuyer("cap-overlap");
        var first = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        var second = Sagas.In("Allocating", buyer, cutoff: null, quantity: Cap);
        await host.SeedAsync(first, second);
        var firstClaimed = new TaskCompletionSource<long>();
        var release = new TaskCompletionSource();

        // The first plan claims, then its event's transaction stays open as while it waits on inventory.
        var firstPlan = Task.Run(async () =>
        {
            using var scope = host.Services.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            firstClaimed.SetResult((await host.Services.GetRequiredService<BuyerSkuClaims>().ClaimAsync(
                buyer, first.CorrelationId, 1, [first.Lines[0] with { Quantity = Cap - 40 }], Cap, cancellationToken)).Single().Quantity);
            await release.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }, cancellationToken);
        (await firstClaimed.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken)).ShouldBe(Cap - 40);

        var overlapping = await ClaimAsync(second, planVersion: 1, Cap).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);

        overlapping.ShouldBe(40, "the first plan's claim counts although its event has not committed");
        release.SetResult();
        await firstPlan;
    }

    [Fact]
    public async Task A_claim_is_planned_once_per_connection_and_finds_its_rows_by_key_whatever_the_statistics_say()
    {
        // On the claims' own connections, as the service opens them: the claim prepared and run as often as a busy
        // connection runs it. Costed anew for every call's keys, it cost PostgreSQL more to plan than to run; the one plan
        // made instead must read by key, as no statistics of the moment could change.
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = Sagas.NewBuyer("cap-plan");
        var sagas = Enumerable.Range(0, 8).Select(_ => Sagas.In("Allocating", buyer, cutoff: null, quantity: 10)).ToArray();
        await host.SeedAsync(sagas);
        await using var connection = new Npgsql.NpgsqlConnection(BuyerSkuClaims.ConnectionString(host.Services.GetRequiredService<IConfiguration>()));
        await connection.OpenAsync(cancellationToken);
        await RunAsync($"PREPARE claim(int, text, text, uuid, int, bigint, bigint, text[], text[], text[]) AS {BuyerSkuClaims.ClaimStatement}");

        string Execute(ReservationState saga) => $$"""
            claim(0, '{{buyer}}', '{{saga.Lines[0].Sku}}', '{{saga.CorrelationId}}', 1, 10, {{Cap}},
                  '{Cancelled,Released}', '{Held,Confirming}', '{Allocating}')
            """;
        foreach (var saga in sagas)
        {
            await RunAsync($"EXECUTE {Execute(saga)}");
        }

        await using (var counts = new Npgsql.NpgsqlCommand("SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE name = 'claim'", connection))
        await using (var reader = await counts.ExecuteReaderAsync(cancellationToken))
        {
            (await reader.ReadAsync(cancellationToken)).ShouldBeTrue();
            (reader.GetInt64(0), reader.GetInt64(1)).ShouldBe((0L, (long)sagas.Length), "every call runs the one plan");
        }

        var plan = new List<string>();
        await using (var explain = new Npgsql.NpgsqlCommand($"EXPLAIN EXECUTE {Execute(sagas[0])}", connection))
        await using (var reader = await explain.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                plan.Add(reader.GetString(0));
            }
        }

        plan.ShouldNotContain(line => line.Contains("Seq Scan"), string.Join('\n', plan));
        plan.ShouldContain(line => line.Contains("Index") && line.Contains("reservation_sagas"), string.Join('\n', plan));

        async Task RunAsync(string sql)
        {
            await using var command = new Npgsql.NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>One plan's claim within an open transaction of its event, as the saga or the allocation activity makes it.</summary>
    private async Task<long> ClaimAsync(ReservationState saga, int planVersion, long wanted, TimeSpan? heldOpen = null)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var line = (await host.Services.GetRequiredService<BuyerSkuClaims>().ClaimAsync(
            saga.BuyerId, saga.CorrelationId, planVersion, [saga.Lines[0] with { Quantity = wanted }], Cap, cancellationToken)).Single();
        if (heldOpen is { } pause)
        {
            await Task.Delay(pause, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return line.Quantity;
    }

    private async Task<long> ConfirmedTotalAsync(string buyer)
    {
        await using var connection = new Npgsql.NpgsqlConnection(host.Database);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new Npgsql.NpgsqlCommand("""
            SELECT COALESCE(SUM(units), 0)::bigint FROM (
                SELECT units FROM buyer_sku_confirmed_units WHERE buyer_id = @buyer
                UNION ALL
                SELECT units FROM buyer_sku_confirmed_deltas WHERE buyer_id = @buyer) confirmed
            """, connection);
        command.Parameters.AddWithValue("buyer", buyer);
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    private async Task<long> ClaimedAsync(string buyer)
    {
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        return await db.BuyerSkuClaims.Where(c => c.BuyerId == buyer).SumAsync(c => c.Units, TestContext.Current.CancellationToken);
    }

    private async Task ChangeSagaAsync(Guid id, Action<ReservationState> change)
    {
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        var saga = await db.Sagas.SingleAsync(s => s.CorrelationId == id, TestContext.Current.CancellationToken);
        change(saga);
        await db.SaveChangesAsync(TestContext.Current.CancellationToken);
    }
}
