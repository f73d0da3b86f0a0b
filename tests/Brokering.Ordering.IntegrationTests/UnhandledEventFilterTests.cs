using System.Diagnostics.Metrics;
using Brokering.Contracts.Inventory;
using Brokering.Ordering.Data;
using Brokering.Ordering.IntegrationTests.Support;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// On real PostgreSQL and RabbitMQ with ordering's real saga endpoint: an event the reservation's state has no
/// behaviour for is acknowledged before the saga's transaction (no inbox record, no row lock), while an event the
/// state does handle still reaches the saga.
/// </summary>
public sealed class UnhandledEventFilterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_answer_the_saga_already_handled_is_acknowledged_without_the_sagas_transaction_and_inventorys_own_announcements_never_reach_it()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        using var ignored = new IgnoredEvents(host);
        var confirmed = Sagas.In("Confirmed", Sagas.NewBuyer("settled"), cutoff: null, distributors: ["dist-a"]);
        await host.SeedAsync(confirmed);
        var messageId = NewId.NextGuid();

        var committed = new HoldsCommitted(confirmed.CorrelationId, [confirmed.Allocations[0].HoldId], confirmed.Allocations[0].Quantity, DateTimeOffset.UtcNow);

        // Inventory's own events, published as inventory publishes them: the saga's queue is bound to neither (the saga has
        // every placement's and commit's answer from its own call or from the command's consumer), so they cost the saga
        // nothing at all. (A Confirmed saga has no behaviour for either: delivered, each would be acknowledged unlocked.)
        await host.Probe.Publish.Publish(
            new HoldsPlaced(confirmed.CorrelationId, confirmed.PlanVersion, [new PlacedHold(Guid.NewGuid(), Sagas.Sku, "dist-a", "HKG-1", 4, 4, 31000m, "USD")],
                DateTimeOffset.UtcNow.AddMinutes(10)),
            Ct);
        await host.Probe.Publish.Publish(committed, Ct);
        // The commit's consumer's answer, sent to the saga's own exchange: it reaches the saga, which handled it already.
        var saga = await host.Probe.Send.GetSendEndpoint(Sagas.Exchange);
        await saga.Send(committed, context => context.MessageId = messageId, Ct);

        await StandInOrderingHost.EventuallyAsync(() => Task.FromResult(ignored.Count >= 1), "the HoldsCommitted to be acknowledged unlocked");
        (await InboxRecordsOfAsync(host, messageId)).ShouldBe(0);
        // Published first on the same channel, the events would have been in the queue ahead of the answer.
        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        ignored.Count.ShouldBe(1);
        (await host.StateAsync(confirmed.CorrelationId)).ShouldBe("Confirmed");
    }

    [Fact]
    public async Task An_answer_arriving_while_the_sagas_own_transaction_is_under_way_reaches_the_saga_and_is_handled_in_the_state_it_commits()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        using var ignored = new IgnoredEvents(host);
        var held = Sagas.In("Held", Sagas.NewBuyer("in-flight"), cutoff: null, distributors: ["dist-a"]);
        await host.SeedAsync(held);

        // A transaction of the saga's is under way, holding its row as the saga does, and about to commit Confirming
        // (its commit, made at once, timed out for the step but landed): inventory's HoldsCommitted arrives meanwhile.
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        await using (var transaction = await db.Database.BeginTransactionAsync(Ct))
        {
            await db.Database.ExecuteSqlInterpolatedAsync(
                $"SELECT 1 FROM reservation_sagas WHERE reservation_id = {held.CorrelationId} FOR UPDATE", Ct);
            var saga = await host.Probe.Send.GetSendEndpoint(Sagas.Exchange);
            await saga.Send(
                new HoldsCommitted(held.CorrelationId, [held.Allocations[0].HoldId], held.Allocations[0].Quantity, DateTimeOffset.UtcNow), Ct);
            await Task.Delay(TimeSpan.FromSeconds(2), Ct);
            await db.Database.ExecuteSqlInterpolatedAsync(
                $"UPDATE reservation_sagas SET current_state = 'Confirming' WHERE reservation_id = {held.CorrelationId}", Ct);
            await transaction.CommitAsync(Ct);
        }

        await StandInOrderingHost.EventuallyAsync(async () => await host.StateAsync(held.CorrelationId) == "Confirmed",
            "the saga to take the HoldsCommitted once its own transaction committed Confirming");
        ignored.Count.ShouldBe(0);
    }

    [Fact]
    public async Task A_placement_answered_for_a_reservation_that_ended_still_reaches_the_saga_which_releases_the_holds()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        using var ignored = new IgnoredEvents(host);
        var cancelled = Sagas.In("Cancelled", Sagas.NewBuyer("ended"), cutoff: null);
        await host.SeedAsync(cancelled);
        var messageId = NewId.NextGuid();

        // The answer of a placement the allocation's consumer made (the saga's own call had given up), sent to the saga as
        // that consumer sends it: inventory's announcement of the placement is not bound to the saga's queue.
        var saga = await host.Probe.Send.GetSendEndpoint(Sagas.Exchange);
        await saga.Send(
            new HoldsPlaced(cancelled.CorrelationId, 2, [new PlacedHold(Guid.NewGuid(), Sagas.Sku, "dist-a", "HKG-1", 4, 4, 31000m, "USD")],
                DateTimeOffset.UtcNow.AddMinutes(10)),
            context => context.MessageId = messageId, Ct);

        await StandInOrderingHost.EventuallyAsync(
            () => Task.FromResult(dependencies.Inventory.ReleasesReceived.Contains(cancelled.CorrelationId.ToString())), "the late holds' release");
        // The release is asked inside the saga's transaction, so its inbox record commits a moment after inventory hears it.
        await StandInOrderingHost.EventuallyAsync(async () => await InboxRecordsOfAsync(host, messageId) == 1, "the saga's transaction to commit");
        ignored.Count.ShouldBe(0);
    }

    private static async Task<int> InboxRecordsOfAsync(StandInOrderingHost host, Guid messageId)
    {
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        return await db.Set<Messaging.Postgres.InboxState>().CountAsync(row => row.MessageId == messageId, Ct);
    }

    /// <summary>Counts this host's events acknowledged without a transaction (its own meters only: tests run side by side).</summary>
    private sealed class IgnoredEvents : IDisposable
    {
        private readonly MeterListener listener = new();
        private long count;

        public IgnoredEvents(StandInOrderingHost host)
        {
            var meters = host.Services.GetRequiredService<IMeterFactory>();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "brokering.ordering.saga.events_ignored_unlocked" && ReferenceEquals(instrument.Meter.Scope, meters))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref count, value));
            listener.Start();
        }

        public long Count => Interlocked.Read(ref count);

        public void Dispose() => listener.Dispose();
    }
}
