using System.Diagnostics.Metrics;
using Brokering.Messaging.Postgres.Tests.Contracts;
using Brokering.Messaging.Postgres.Tests.Support;
using MassTransit;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Brokering.Testing;

namespace Brokering.Messaging.Postgres.Tests;

public sealed class SchedulerTests
{
    static readonly Uri Scheduler = new("queue:scheduler");
    static readonly Uri Observations = new($"queue:{ObservationConsumerDefinition.Queue}");

    [Fact]
    public async Task A_scheduled_message_is_delivered_by_a_new_host_after_the_scheduling_host_stopped()
    {
        await using var environment = await TestEnvironment.CreateAsync("restart");
        var counterId = NewId.NextGuid();
        await using var db = environment.CreateDbContext();

        await using (var first = await MessagingTestHost.StartAsync(environment))
        {
            var bus = first.Services.GetRequiredService<IBus>();
            await bus.Publish(new Increment(counterId));
            await Eventually.Until(() => db.Counters.CountAsync(), c => c == 1, what: "the counter");
            await bus.Publish(new ArmReminder(counterId, 3000));
            await Eventually.Until(() => db.ScheduledMessages.CountAsync(), c => c == 1, what: "the stored schedule");
        }

        (await db.Counters.AsNoTracking().SingleAsync()).RemindersReceived.ShouldBe(0);
        var stored = await db.ScheduledMessages.AsNoTracking().SingleAsync();
        stored.TokenId.ShouldBe((await db.Counters.AsNoTracking().SingleAsync()).ReminderTokenId!.Value);

        await using var second = await MessagingTestHost.StartAsync(environment);
        var reminders = await Eventually.Until(() => db.Counters.AsNoTracking().Select(x => x.RemindersReceived).SingleAsync(), r => r >= 1,
            what: "the reminder");
        reminders.ShouldBe(1);
        await Eventually.Until(() => db.ScheduledMessages.CountAsync(), c => c == 0, what: "the sent row to be deleted");
        DateTime.UtcNow.ShouldBeGreaterThanOrEqualTo(stored.DueAt);
    }

    [Fact]
    public async Task A_timer_a_saga_sets_and_cancels_is_written_in_the_sagas_own_transactions_without_a_command_on_the_scheduler_queue()
    {
        await using var environment = await TestEnvironment.CreateAsync("intx");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var counterId = NewId.NextGuid();
        await using var db = environment.CreateDbContext();

        await ArmALongReminderAsync(bus, db, counterId);
        var stored = await db.ScheduledMessages.AsNoTracking().ToListAsync();
        stored[0].TokenId.ShouldBe((await db.Counters.AsNoTracking().SingleAsync()).ReminderTokenId!.Value);

        await bus.Publish(new DisarmReminder(counterId));
        await Eventually.Until(() => db.ScheduledMessages.AsNoTracking().SingleAsync(), row => row.CancelledAt is not null, what: "the cancellation");

        // Consumed: the saga's three events and the observer's CounterIncremented, nothing else. A ScheduleMessage or
        // CancelScheduledMessage through the scheduler's queue would be a consume (an inbox row) of its own.
        await Eventually.Until(() => db.Inbox.CountAsync(), c => c >= 4, what: "the four consumes");
        await Task.Delay(500);
        (await db.Inbox.CountAsync()).ShouldBe(4);
    }

    [Fact]
    public async Task With_in_transaction_schedules_turned_off_a_sagas_timer_is_a_command_the_scheduler_queue_consumes()
    {
        await using var environment = await TestEnvironment.CreateAsync("viaqueue");
        await using var host = await MessagingTestHost.StartAsync(environment, scheduler: s => s.WriteSchedulesInTransaction = false);
        await using var db = environment.CreateDbContext();

        await ArmALongReminderAsync(host.Services.GetRequiredService<IBus>(), db, NewId.NextGuid());

        // The saga's two events, the observer's CounterIncremented, and the scheduler's consume of the ScheduleMessage.
        await Eventually.Until(() => db.Inbox.CountAsync(), c => c == 4, what: "the scheduler's consume among the four");
    }

    [Fact]
    public async Task A_timer_a_saga_sets_while_consuming_its_previous_timer_is_delivered_under_its_own_token_and_not_ignored()
    {
        await using var environment = await TestEnvironment.CreateAsync("chain");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var counterId = NewId.NextGuid();
        await using var db = environment.CreateDbContext();
        await bus.Publish(new Increment(counterId));
        await Eventually.Until(() => db.Counters.CountAsync(), c => c == 1, what: "the counter");

        // Each reminder sets the next one in its own consume: a reminder delivered under its predecessor's token would be
        // ignored by the saga as no longer current, and the chain would stop at the first.
        await bus.Publish(new ArmReminder(counterId, 200, Repeats: 3));

        var received = await Eventually.Until(() => db.Counters.AsNoTracking().Select(x => x.RemindersReceived).SingleAsync(), r => r >= 4,
            TimeSpan.FromSeconds(30), what: "four reminders, each set by the one before");
        received.ShouldBe(4);
        await Eventually.Until(() => db.Counters.AsNoTracking().Select(x => x.ReminderTokenId).SingleAsync(), token => token is null,
            what: "the last reminder's token to be cleared");
    }

    [Fact]
    public async Task A_cancelled_scheduled_message_is_never_delivered()
    {
        await using var environment = await TestEnvironment.CreateAsync("cancel");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var cancelled = NewId.NextGuid();
        var control = NewId.NextGuid();
        await using var db = environment.CreateDbContext();

        await bus.Publish(new Increment(cancelled));
        await bus.Publish(new Increment(control));
        await Eventually.Until(() => db.Counters.CountAsync(), c => c == 2, what: "both counters");
        await bus.Publish(new ArmReminder(cancelled, 1500));
        await bus.Publish(new ArmReminder(control, 1500));
        await Eventually.Until(() => db.ScheduledMessages.CountAsync(), c => c == 2, what: "both schedules");

        await bus.Publish(new DisarmReminder(cancelled));

        await Eventually.Until(() => db.Counters.AsNoTracking().Where(x => x.CorrelationId == control).Select(x => x.RemindersReceived).SingleAsync(),
            r => r == 1, what: "the control reminder");
        await Task.Delay(1000);
        (await db.Counters.AsNoTracking().SingleAsync(x => x.CorrelationId == cancelled)).RemindersReceived.ShouldBe(0);
        var remaining = await db.ScheduledMessages.AsNoTracking().SingleAsync();
        remaining.CancelledAt.ShouldNotBeNull();
    }

    [Fact]
    public async Task A_cancel_that_overtakes_its_schedule_still_prevents_delivery()
    {
        await using var environment = await TestEnvironment.CreateAsync("overtake");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var scheduler = await bus.GetSendEndpoint(Scheduler);
        var cancelledId = NewId.NextGuid();
        var controlId = NewId.NextGuid();
        var cancelledToken = NewId.NextGuid();
        await using var db = environment.CreateDbContext();

        await scheduler.Send<CancelScheduledMessage>(new { CorrelationId = NewId.NextGuid(), Timestamp = DateTime.UtcNow, TokenId = cancelledToken });
        await Eventually.Until(() => db.ScheduledMessages.CountAsync(), c => c == 1, what: "the tombstone");

        var due = DateTime.UtcNow.AddMilliseconds(500);
        await scheduler.Send<ScheduleMessage>(new ScheduleMessageCommand<SomethingHappened>(due, Observations, new SomethingHappened(cancelledId, 1), cancelledToken));
        await scheduler.Send<ScheduleMessage>(new ScheduleMessageCommand<SomethingHappened>(due, Observations, new SomethingHappened(controlId, 2), NewId.NextGuid()));

        await Eventually.Until(() => db.Observations.CountAsync(x => x.Key == controlId), c => c == 1, what: "the control message");
        await Task.Delay(1000);
        (await db.Observations.CountAsync(x => x.Key == cancelledId)).ShouldBe(0);
        (await db.ScheduledMessages.AsNoTracking().SingleAsync()).TokenId.ShouldBe(cancelledToken);
    }

    [Fact]
    public async Task Two_scheduler_replicas_deliver_each_due_message_exactly_once_and_record_the_lag()
    {
        using var lag = new LagListener();
        await using var environment = await TestEnvironment.CreateAsync("replicas");
        await using var first = await MessagingTestHost.StartAsync(environment);
        await using var second = await MessagingTestHost.StartAsync(environment);
        var scheduler = await first.Services.GetRequiredService<IBus>().GetSendEndpoint(Scheduler);
        var batch = NewId.NextGuid();
        const int messages = 40;

        var due = DateTime.UtcNow.AddSeconds(1);
        await Task.WhenAll(Enumerable.Range(0, messages).Select(i =>
            scheduler.Send<ScheduleMessage>(new ScheduleMessageCommand<SomethingHappened>(due, Observations, new SomethingHappened(batch, i), NewId.NextGuid()))));

        await using var db = environment.CreateDbContext();
        var values = await Eventually.Until(() => db.Observations.Where(x => x.Key == batch).Select(x => x.Value).ToListAsync(), v => v.Count >= messages,
            what: "every scheduled message");
        await Task.Delay(500);

        values.Order().ShouldBe(Enumerable.Range(0, messages));
        var received = first.ReceiveLog.Received.Concat(second.ReceiveLog.Received)
            .Where(x => x.Endpoint.EndsWith(ObservationConsumerDefinition.Queue, StringComparison.Ordinal)).ToList();
        received.Count.ShouldBe(messages, "each due row is sent by one replica, once");
        received.Select(x => x.MessageId).Distinct().Count().ShouldBe(messages);
        await Eventually.Until(() => db.ScheduledMessages.CountAsync(), c => c == 0, what: "the sent rows to be deleted");
        lag.Measurements.ShouldBeGreaterThanOrEqualTo(messages);
    }

    [Fact]
    public async Task A_message_redelivered_through_the_scheduler_again_and_again_is_consumed_once_it_succeeds()
    {
        await using var environment = await TestEnvironment.CreateAsync("redelivery");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var entryId = NewId.NextGuid();

        // Three failed deliveries: three ScheduleMessage commands carrying the same original MessageId in their headers.
        var endpoint = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri("queue:RecordEntryEventually"));
        await endpoint.Send(new RecordEntryEventually(entryId, FailedDeliveries: 3));

        await using var db = environment.CreateDbContext();
        await Eventually.Until(() => db.Ledger.CountAsync(x => x.EntryId == entryId), c => c >= 1, what: "the entry of the fourth delivery");
        await Task.Delay(1000);

        (await db.Ledger.CountAsync(x => x.EntryId == entryId)).ShouldBe(1, "the failed deliveries rolled back");
        host.ReceiveLog.Received.Count(x => x.Endpoint.EndsWith("RecordEntryEventually", StringComparison.Ordinal)).ShouldBe(4);
        (await db.ScheduledMessages.CountAsync()).ShouldBe(0);
    }

    sealed class LagListener : IDisposable
    {
        readonly MeterListener _listener = new();
        int _measurements;

        public LagListener()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == MessagingMetrics.MeterName && instrument.Name == "brokering.messaging.scheduler.lag")
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref _measurements));
            _listener.Start();
        }

        public int Measurements => Volatile.Read(ref _measurements);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>Starts a counter and arms a reminder due in a minute (it never fires in a test); waits until it is stored.</summary>
    static async Task ArmALongReminderAsync(IBus bus, TestDbContext db, Guid counterId)
    {
        await bus.Publish(new Increment(counterId));
        await Eventually.Until(() => db.Counters.CountAsync(), c => c == 1, what: "the counter");
        await bus.Publish(new ArmReminder(counterId, 60_000));
        await Eventually.Until(() => db.ScheduledMessages.CountAsync(), c => c == 1, what: "the stored schedule");
    }
}
