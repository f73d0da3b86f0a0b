using Brokering.Messaging.Postgres.Tests.Contracts;
using Brokering.Messaging.Postgres.Tests.Support;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Brokering.Testing;

namespace Brokering.Messaging.Postgres.Tests;

public sealed class SagaRepositoryTests
{
    [Fact]
    public async Task Many_concurrent_events_to_one_saga_instance_are_all_applied()
    {
        await using var environment = await TestEnvironment.CreateAsync("concurrent");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var counterId = NewId.NextGuid();
        const int events = 200;

        await Task.WhenAll(Enumerable.Range(0, events).Select(_ => bus.Publish(new Increment(counterId))));

        await using var db = environment.CreateDbContext();
        var count = await Eventually.Until(() => db.Counters.AsNoTracking().Where(x => x.CorrelationId == counterId).Select(x => x.Count).SingleOrDefaultAsync(),
            c => c >= events, what: "the counter to reach 200");
        count.ShouldBe(events);

        // Each transition committed with the event it published: the counts seen downstream are exactly 1..200.
        var seen = await Eventually.Until(
            () => db.Observations.AsNoTracking().Where(x => x.Kind == "incremented" && x.Key == counterId).Select(x => x.Value).ToListAsync(),
            v => v.Count >= events, what: "200 CounterIncremented events");
        seen.Order().ShouldBe(Enumerable.Range(1, events));
    }

    [Fact]
    public async Task Racing_first_events_create_exactly_one_instance_and_apply_every_event()
    {
        await using var environment = await TestEnvironment.CreateAsync("race");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var counters = Enumerable.Range(0, 10).Select(_ => NewId.NextGuid()).ToList();
        const int perCounter = 16;

        await Task.WhenAll(counters.SelectMany(id => Enumerable.Range(0, perCounter).Select(_ => bus.Publish(new Increment(id)))));

        await using var db = environment.CreateDbContext();
        var total = await Eventually.Until(() => db.Counters.AsNoTracking().SumAsync(x => x.Count), t => t >= counters.Count * perCounter,
            what: "all increments");
        total.ShouldBe(counters.Count * perCounter);

        var rows = await db.Counters.AsNoTracking().ToListAsync();
        rows.Count.ShouldBe(counters.Count);
        rows.ShouldAllBe(x => x.Count == perCounter && x.CurrentState == "Counting");
    }

    [Fact]
    public async Task Racing_first_events_with_insert_on_initial_create_one_instance_and_apply_every_event()
    {
        await using var environment = await TestEnvironment.CreateAsync("eager");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var counters = Enumerable.Range(0, 10).Select(_ => NewId.NextGuid()).ToList();
        const int perCounter = 16;

        await Task.WhenAll(counters.SelectMany(id => Enumerable.Range(0, perCounter).Select(_ => bus.Publish(new EagerIncrement(id)))));

        await using var db = environment.CreateDbContext();
        var total = await Eventually.Until(() => db.EagerCounters.AsNoTracking().SumAsync(x => x.Count), t => t >= counters.Count * perCounter,
            what: "all increments");
        total.ShouldBe(counters.Count * perCounter);

        var rows = await db.EagerCounters.AsNoTracking().ToListAsync();
        rows.Count.ShouldBe(counters.Count);
        rows.ShouldAllBe(x => x.Count == perCounter);
    }

    [Fact]
    public async Task A_duplicate_delivery_with_the_same_MessageId_is_acknowledged_and_has_one_effect()
    {
        await using var environment = await TestEnvironment.CreateAsync("duplicate");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var counterId = NewId.NextGuid();
        var duplicateId = NewId.NextGuid();
        var entryId = NewId.NextGuid();
        var entryMessageId = NewId.NextGuid();

        await bus.Publish(new Increment(counterId), c => c.MessageId = duplicateId);
        await bus.Publish(new Increment(counterId), c => c.MessageId = duplicateId);
        await bus.Publish(new Increment(counterId));
        var ledger = await bus.GetSendEndpoint(new Uri("queue:RecordEntry"));
        await ledger.Send(new RecordEntry(entryId), c => c.MessageId = entryMessageId);
        await ledger.Send(new RecordEntry(entryId), c => c.MessageId = entryMessageId);

        await using var db = environment.CreateDbContext();
        await Eventually.Until(() => db.Inbox.AsNoTracking().Where(x => x.MessageId == duplicateId).Select(x => x.ReceiveCount).SingleOrDefaultAsync(),
            c => c == 2, what: "the saga's duplicate to be received");
        await Eventually.Until(() => db.Inbox.AsNoTracking().Where(x => x.MessageId == entryMessageId).Select(x => x.ReceiveCount).SingleOrDefaultAsync(),
            c => c == 2, what: "the consumer's duplicate to be received");
        var count = await Eventually.Until(() => db.Counters.AsNoTracking().Where(x => x.CorrelationId == counterId).Select(x => x.Count).SingleOrDefaultAsync(),
            c => c >= 2, what: "the distinct increments");

        count.ShouldBe(2);
        (await db.Ledger.CountAsync(x => x.EntryId == entryId)).ShouldBe(1);
        host.ReceiveLog.Received.Count(x => x.MessageId == duplicateId).ShouldBe(2);
        host.ReceiveLog.Received.Count(x => x.MessageId == entryMessageId).ShouldBe(2);

        await Task.Delay(300);
        (await db.Observations.CountAsync(x => x.Kind == "happened" && x.Key == entryId)).ShouldBe(1);
    }

    [Fact]
    public async Task An_event_correlated_by_an_expression_locks_and_updates_the_matching_instance()
    {
        await using var environment = await TestEnvironment.CreateAsync("correlateby");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var alpha = NewId.NextGuid();
        var beta = NewId.NextGuid();

        await bus.Publish(new Increment(alpha, "alpha"));
        await bus.Publish(new Increment(beta, "beta"));
        await using var db = environment.CreateDbContext();
        await Eventually.Until(() => db.Counters.CountAsync(), c => c == 2, what: "both counters");

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => bus.Publish(new IncrementByName("alpha"))));

        var count = await Eventually.Until(() => db.Counters.AsNoTracking().Where(x => x.CorrelationId == alpha).Select(x => x.Count).SingleAsync(),
            c => c >= 21, what: "alpha to count 21");
        count.ShouldBe(21);
        (await db.Counters.AsNoTracking().SingleAsync(x => x.CorrelationId == beta)).Count.ShouldBe(1);
    }

    [Fact]
    public async Task A_finalized_instance_is_deleted_when_the_machine_completes_finalized_instances()
    {
        await using var environment = await TestEnvironment.CreateAsync("finalize");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var keep = NewId.NextGuid();
        var finish = NewId.NextGuid();

        await bus.Publish(new Increment(keep));
        await bus.Publish(new Increment(finish));
        await using var db = environment.CreateDbContext();
        await Eventually.Until(() => db.Counters.CountAsync(), c => c == 2, what: "both counters");

        await bus.Publish(new FinishCounter(finish));

        await Eventually.Until(() => db.Counters.CountAsync(), c => c == 1, what: "the finished counter to be deleted");
        (await db.Counters.AsNoTracking().SingleAsync()).CorrelationId.ShouldBe(keep);
    }
}
