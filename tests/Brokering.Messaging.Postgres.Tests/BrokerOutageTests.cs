using Brokering.Messaging.Postgres.Tests.Contracts;
using Brokering.Messaging.Postgres.Tests.Support;
using Brokering.Testing.Faults;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Brokering.Testing;

namespace Brokering.Messaging.Postgres.Tests;

/// <summary>A real RabbitMQ node of the test's own, stopped and started again while the services keep working.</summary>
public sealed class BrokerOutageTests
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Bus_outbox_messages_stored_while_RabbitMQ_is_stopped_are_all_delivered_once_after_it_restarts()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await PrivateRabbitMq.StartAsync(ct);
        await using var environment = await TestEnvironment.CreateAsync("brokerstop", broker.AmqpUri);
        await using var host = await MessagingTestHost.StartAsync(environment);
        await using var db = environment.CreateDbContext();
        var batch = NewId.NextGuid();
        const int before = 5;
        const int during = 30;

        // The path works while the broker is up.
        for (var i = 0; i < before; i++)
            await PublishFromApiHandler(host, batch, i);
        await Eventually.Until(() => db.Observations.CountAsync(x => x.Key == batch), c => c == before, Patience, "the messages sent before the stop");
        await Eventually.Until(() => db.OutboxMessages.CountAsync(), c => c == 0, Patience, "the relayed rows to be deleted");

        await broker.StopAsync();

        // API handlers keep committing their events into the outbox; the relay cannot send them and keeps every row.
        for (var i = before; i < before + during; i++)
            await PublishFromApiHandler(host, batch, i);
        await Task.Delay(TimeSpan.FromSeconds(5), ct);
        (await db.OutboxMessages.CountAsync()).ShouldBe(during);
        (await db.Observations.CountAsync(x => x.Key == batch)).ShouldBe(before);

        await broker.StartAgainAsync(ct);

        var sequences = await Eventually.Until(() => db.Observations.Where(x => x.Key == batch).Select(x => x.Value).ToListAsync(),
            v => v.Count >= before + during, Patience, "every message after the restart");
        await Eventually.Until(() => db.OutboxMessages.CountAsync(), c => c == 0, Patience, "the relayed rows to be deleted");
        await Task.Delay(TimeSpan.FromSeconds(2), ct);

        // Effects: exactly one observation per message (the consumer's inbox guarantees this even for a resend).
        sequences = await db.Observations.Where(x => x.Key == batch).Select(x => x.Value).ToListAsync();
        sequences.Order().ShouldBe(Enumerable.Range(0, before + during));
        var observed = await db.Observations.Where(x => x.Key == batch).Select(x => x.MessageId).ToListAsync();
        observed.Distinct().Count().ShouldBe(before + during);

        // Deliveries: the outage messages were never handed to the broker before the restart (sends to a stopped
        // node fail, nothing is in flight), so after it each arrives exactly once, not merely once in effect.
        var outageIds = await db.Observations.Where(x => x.Key == batch && x.Value >= before).Select(x => x.MessageId!.Value).ToListAsync();
        var receptions = host.ReceiveLog.Received
            .Where(x => x.Endpoint.EndsWith(ObservationConsumerDefinition.Queue, StringComparison.Ordinal) && x.MessageId is { } id && outageIds.Contains(id))
            .GroupBy(x => x.MessageId)
            .ToDictionary(g => g.Key!.Value, g => g.Count());
        receptions.Count.ShouldBe(during);
        receptions.Values.ShouldAllBe(count => count == 1);
    }

    [Fact]
    public async Task A_scheduled_message_due_while_RabbitMQ_is_stopped_is_delivered_after_it_restarts()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await PrivateRabbitMq.StartAsync(ct);
        await using var environment = await TestEnvironment.CreateAsync("schedstop", broker.AmqpUri);
        await using var host = await MessagingTestHost.StartAsync(environment);
        await using var db = environment.CreateDbContext();
        var counterId = NewId.NextGuid();
        var bus = host.Services.GetRequiredService<IBus>();

        await bus.Publish(new Increment(counterId), ct);
        await Eventually.Until(() => db.Counters.CountAsync(), c => c == 1, Patience, "the counter");
        // Due well after the stop below has finished (stopping a node takes seconds on a loaded machine).
        await bus.Publish(new ArmReminder(counterId, 45_000), ct);
        await Eventually.Until(() => db.ScheduledMessages.CountAsync(), c => c == 1, Patience, "the stored schedule");
        var stored = await db.ScheduledMessages.AsNoTracking().SingleAsync(ct);

        await broker.StopAsync();
        DateTime.UtcNow.ShouldBeLessThan(stored.DueAt, "precondition: the broker was down before the message fell due");
        while (DateTime.UtcNow < stored.DueAt.AddSeconds(3))
            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
        (await db.ScheduledMessages.CountAsync(ct)).ShouldBe(1, "a due message the broker cannot take stays stored");

        await broker.StartAgainAsync(ct);

        var reminders = await Eventually.Until(() => db.Counters.AsNoTracking().Select(x => x.RemindersReceived).SingleAsync(),
            r => r >= 1, Patience, "the reminder after the restart");
        await Eventually.Until(() => db.ScheduledMessages.CountAsync(), c => c == 0, Patience, "the sent row to be deleted");
        await Task.Delay(TimeSpan.FromSeconds(2), ct);
        (await db.Counters.AsNoTracking().Select(x => x.RemindersReceived).SingleAsync(ct)).ShouldBe(1);
        reminders.ShouldBe(1);
    }

    static Task PublishFromApiHandler(MessagingTestHost host, Guid batch, int sequence) =>
        host.InScope(async (services, db) =>
        {
            await services.GetRequiredService<IPublishEndpoint>().Publish(new SomethingHappened(batch, sequence));
            await db.SaveChangesAsync();
        });
}
