using Brokering.Messaging.Postgres.Tests.Contracts;
using Brokering.Messaging.Postgres.Tests.Support;
using Brokering.Testing.Faults;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Brokering.Testing;

namespace Brokering.Messaging.Postgres.Tests;

/// <summary>A PostgreSQL server of the test's own, stopped in immediate mode and started again while messages keep arriving.</summary>
public sealed class DatabaseOutageTests
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task A_command_and_a_timer_arriving_while_PostgreSQL_is_down_take_effect_once_it_is_back_instead_of_being_dead_lettered()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var postgres = await PrivatePostgres.StartAsync(ct);
        await using var environment = await TestEnvironment.CreateAsync("dbstop", postgresServer: postgres.ConnectionString());
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var entryId = NewId.NextGuid();
        var batch = NewId.NextGuid();

        await postgres.StopImmediateAsync();

        // Both go straight to the broker (an outbox would need the database): a command for a consumer that writes,
        // and a timer for the scheduler, whose consumer must store it before it can ever fire.
        await (await bus.GetSendEndpoint(new Uri("queue:RecordEntry"))).Send(new RecordEntry(entryId), ct);
        await bus.CreateMessageScheduler(new Uri("queue:scheduler")).SchedulePublish(DateTime.UtcNow.AddSeconds(2), new SomethingHappened(batch, 7), ct);

        // Their consumers fail for as long as the server is down.
        await Task.Delay(TimeSpan.FromSeconds(5), ct);
        await postgres.StartAgainAsync(ct);

        await using var db = environment.CreateDbContext();
        await Eventually.Until(() => db.Ledger.CountAsync(x => x.EntryId == entryId), c => c >= 1, Patience, "the command's entry");
        await Eventually.Until(() => db.Observations.CountAsync(x => x.Key == batch), c => c >= 1, Patience, "the timer's event");
        await Task.Delay(TimeSpan.FromSeconds(2), ct);
        (await db.Ledger.CountAsync(x => x.EntryId == entryId)).ShouldBe(1);
        (await db.Observations.Where(x => x.Key == batch).Select(x => x.Value).ToListAsync()).ShouldBe([7]);
    }
}
