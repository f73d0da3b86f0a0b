using Brokering.Messaging.Postgres.Tests.Contracts;
using Brokering.Messaging.Postgres.Tests.Support;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Brokering.Testing;

namespace Brokering.Messaging.Postgres.Tests;

public sealed class OutboxTests
{
    [Fact]
    public async Task An_api_handler_s_entity_and_its_event_commit_together_in_one_SaveChanges()
    {
        await using var environment = await TestEnvironment.CreateAsync("busoutbox");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var abandoned = NewId.NextGuid();
        var saved = NewId.NextGuid();

        // A handler that publishes, then fails before SaveChanges: neither the entity nor the event exists.
        await host.InScope(async (services, db) =>
        {
            db.Widgets.Add(new Widget { Id = abandoned, Name = "abandoned" });
            await services.GetRequiredService<IPublishEndpoint>().Publish(new SomethingHappened(abandoned, 1));
        });

        // A handler that publishes and saves: both.
        await host.InScope(async (services, db) =>
        {
            db.Widgets.Add(new Widget { Id = saved, Name = "saved" });
            await services.GetRequiredService<IPublishEndpoint>().Publish(new SomethingHappened(saved, 1));
            (await db.OutboxMessages.CountAsync()).ShouldBe(0, "nothing is written before SaveChanges");
            await db.SaveChangesAsync();
        });

        await using var check = environment.CreateDbContext();
        await Eventually.Until(() => check.Observations.CountAsync(x => x.Key == saved), c => c == 1, what: "the saved event");
        await Task.Delay(500);
        (await check.Widgets.Select(x => x.Id).ToListAsync()).ShouldBe([saved]);
        (await check.Observations.CountAsync(x => x.Key == abandoned)).ShouldBe(0);
        await Eventually.Until(() => check.OutboxStates.CountAsync(), c => c == 0, what: "the relayed outbox to be deleted");
        (await check.OutboxMessages.CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_consumer_s_messages_are_relayed_from_memory_right_after_its_commit_without_reading_them_back()
    {
        await using var environment = await TestEnvironment.CreateAsync("frommemory");
        var database = new Npgsql.NpgsqlConnectionStringBuilder(environment.ConnectionString).Database;
        var statements = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) =>
                System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("db.namespace") ?? activity.GetTagItem("db.name"), database)
                    && (activity.GetTagItem("db.query.text") ?? activity.GetTagItem("db.statement")) is string text)
                {
                    statements.Enqueue(text);
                }
            },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        await using var host = await MessagingTestHost.StartAsync(environment);
        var ledger = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri("queue:RecordEntry"));
        var entries = Enumerable.Range(0, 5).Select(_ => NewId.NextGuid()).ToList();

        foreach (var entry in entries)
        {
            await ledger.Send(new RecordEntry(entry));
        }

        await using var db = environment.CreateDbContext();
        await Eventually.Until(() => db.Observations.CountAsync(x => entries.Contains(x.Key)), c => c == entries.Count, what: "every entry's event");
        await Eventually.Until(() => db.OutboxMessages.CountAsync(), c => c == 0, what: "the relayed rows to be deleted");
        (await db.Inbox.CountAsync(x => x.Delivered == null)).ShouldBe(0, "every inbox row records its delivery");
        statements.ShouldNotBeEmpty("the listener sees the host's statements");
        statements.Where(text => text.TrimStart().StartsWith("SELECT", StringComparison.OrdinalIgnoreCase)
                && text.Contains("outbox_message", StringComparison.Ordinal) && text.Contains("inbox_message_id", StringComparison.Ordinal))
            .ShouldBeEmpty("the messages a consume captured are relayed from memory, not read back");
    }

    [Fact]
    public async Task A_consumer_that_fails_after_writing_and_publishing_leaves_nothing_and_its_retry_takes_effect_once()
    {
        await using var environment = await TestEnvironment.CreateAsync("rollback");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var entryId = NewId.NextGuid();

        var ledger = await bus.GetSendEndpoint(new Uri("queue:RecordEntry"));
        await ledger.Send(new RecordEntry(entryId, FailFirstAttempt: true));

        await using var db = environment.CreateDbContext();
        await Eventually.Until(() => db.Observations.CountAsync(x => x.Key == entryId), c => c >= 1, what: "the event of the successful attempt");
        await Task.Delay(500);
        (await db.Ledger.CountAsync(x => x.EntryId == entryId)).ShouldBe(1);
        (await db.Observations.CountAsync(x => x.Key == entryId)).ShouldBe(1);
    }

    [Fact]
    public async Task Messages_waiting_in_the_outbox_while_RabbitMQ_is_unreachable_are_all_delivered_once_it_is_back()
    {
        await using var environment = await TestEnvironment.CreateAsync("outage");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var batch = NewId.NextGuid();
        const int messages = 30;

        await Broker.CutOff(environment.VirtualHost);
        try
        {
            for (var i = 0; i < messages; i++)
            {
                var sequence = i;
                await host.InScope(async (services, db) =>
                {
                    await services.GetRequiredService<IPublishEndpoint>().Publish(new SomethingHappened(batch, sequence));
                    await db.SaveChangesAsync();
                });
            }

            // The relay keeps trying and failing: every row is still there, nothing reached a consumer.
            await Task.Delay(TimeSpan.FromSeconds(3));
            await using var during = environment.CreateDbContext();
            (await during.OutboxMessages.CountAsync()).ShouldBe(messages);
            (await during.Observations.CountAsync(x => x.Key == batch)).ShouldBe(0);
        }
        finally
        {
            await Broker.Restore(environment.VirtualHost);
        }

        await using var db = environment.CreateDbContext();
        var sequences = await Eventually.Until(() => db.Observations.Where(x => x.Key == batch).Select(x => x.Value).ToListAsync(),
            v => v.Count >= messages, what: "every outboxed message after the outage");
        sequences.Order().ShouldBe(Enumerable.Range(0, messages));
        await Eventually.Until(() => db.OutboxMessages.CountAsync(), c => c == 0, what: "the relayed rows to be deleted");
        host.ReceiveLog.Received.Count(x => x.Endpoint.EndsWith(ObservationConsumerDefinition.Queue, StringComparison.Ordinal)).ShouldBe(messages);
    }

    [Fact]
    public async Task Two_hosts_consuming_one_saga_queue_keep_the_counter_exact()
    {
        await using var environment = await TestEnvironment.CreateAsync("twohosts");
        await using var first = await MessagingTestHost.StartAsync(environment);
        await using var second = await MessagingTestHost.StartAsync(environment);
        var counterId = NewId.NextGuid();
        const int events = 200;

        var buses = new[] { first.Services.GetRequiredService<IBus>(), second.Services.GetRequiredService<IBus>() };
        await Task.WhenAll(Enumerable.Range(0, events).Select(i => buses[i % 2].Publish(new Increment(counterId))));

        await using var db = environment.CreateDbContext();
        var count = await Eventually.Until(() => db.Counters.AsNoTracking().Where(x => x.CorrelationId == counterId).Select(x => x.Count).SingleOrDefaultAsync(),
            c => c >= events, what: "the counter to reach 200");
        count.ShouldBe(events);

        static int SagaReceives(MessagingTestHost host) => host.ReceiveLog.Received.Count(x => x.Endpoint.EndsWith("counter-state", StringComparison.Ordinal));
        SagaReceives(first).ShouldBeGreaterThan(0);
        SagaReceives(second).ShouldBeGreaterThan(0);
        (SagaReceives(first) + SagaReceives(second)).ShouldBe(events);
    }

    [Fact]
    public async Task Inbox_cleanup_removes_rows_older_than_the_duplicate_detection_window()
    {
        await using var environment = await TestEnvironment.CreateAsync("cleanup");
        var now = DateTime.UtcNow;
        var old = new InboxState { MessageId = NewId.NextGuid(), ConsumerId = NewId.NextGuid(), Received = now.AddHours(-3), Consumed = now.AddHours(-3), Delivered = now.AddHours(-2) };
        var recent = new InboxState { MessageId = NewId.NextGuid(), ConsumerId = NewId.NextGuid(), Received = now.AddMinutes(-5), Consumed = now.AddMinutes(-5), Delivered = now.AddMinutes(-5) };
        var undelivered = new InboxState { MessageId = NewId.NextGuid(), ConsumerId = NewId.NextGuid(), Received = now.AddHours(-3), Consumed = now.AddHours(-3) };
        await using (var seed = environment.CreateDbContext())
        {
            seed.Inbox.AddRange(old, recent, undelivered);
            await seed.SaveChangesAsync();
        }

        await using var host = await MessagingTestHost.StartAsync(environment, o =>
        {
            o.DuplicateDetectionWindow = TimeSpan.FromHours(1);
            o.InboxCleanupInterval = TimeSpan.FromMilliseconds(100);
            o.StrandedConsumerOutboxAfter = TimeSpan.FromDays(1);
        });

        await using var db = environment.CreateDbContext();
        await Eventually.Until(() => db.Inbox.CountAsync(x => x.MessageId == old.MessageId), c => c == 0, what: "the old row to be removed");
        (await db.Inbox.Select(x => x.MessageId).ToListAsync()).ShouldBe([recent.MessageId, undelivered.MessageId], ignoreOrder: true);
    }
}
