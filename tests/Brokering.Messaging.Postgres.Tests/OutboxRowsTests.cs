using Brokering.Messaging.Postgres.Tests.Contracts;
using Brokering.Messaging.Postgres.Tests.Support;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Brokering.Testing;

namespace Brokering.Messaging.Postgres.Tests;

/// <summary>The bus outbox for hot paths that write with their own SQL: rows captured without a DbContext.</summary>
public sealed class OutboxRowsTests
{
    [Fact]
    public async Task Rows_captured_without_a_DbContext_are_relayed_once_after_the_callers_own_commit_and_never_after_a_rollback()
    {
        await using var environment = await TestEnvironment.CreateAsync("outboxrows");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var factory = host.Services.GetRequiredService<PostgresOutboxRowsFactory<TestDbContext>>();
        var committed = NewId.NextGuid();
        var rolledBack = NewId.NextGuid();

        async Task WriteAsync(Guid key, bool commit)
        {
            var rows = factory.Create();
            foreach (var sequence in new[] { 1, 2, 3 })
            {
                // One source per message: relayed independently, as the holds ledger does per reservation.
                rows.StartSource();
                await rows.PublishEndpoint.Publish(new SomethingHappened(key, sequence));
            }

            await using var connection = new NpgsqlConnection(environment.ConnectionString);
            await connection.OpenAsync();
            await using var batch = connection.CreateBatch();
            batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
            rows.AddTo(batch);
            batch.BatchCommands.Add(new NpgsqlBatchCommand(commit ? "COMMIT" : "ROLLBACK"));
            await batch.ExecuteNonQueryAsync();
            if (commit)
            {
                rows.Committed();
            }
        }

        await WriteAsync(rolledBack, commit: false);
        await WriteAsync(committed, commit: true);

        await using var check = environment.CreateDbContext();
        await Eventually.Until(() => check.Observations.CountAsync(x => x.Key == committed), c => c == 3, what: "the committed events");
        await Eventually.Until(() => check.OutboxStates.CountAsync(), c => c == 0, what: "the relayed outboxes to be deleted");
        (await check.Observations.Where(x => x.Key == committed).Select(x => x.Value).OrderBy(x => x).ToListAsync()).ShouldBe([1, 2, 3]);
        (await check.Observations.CountAsync(x => x.Key == rolledBack)).ShouldBe(0);
        (await check.OutboxMessages.CountAsync()).ShouldBe(0);
    }
    [Fact]
    public async Task Messages_of_different_sources_are_published_together_not_one_confirm_wait_after_another()
    {
        await using var environment = await TestEnvironment.CreateAsync("outboxbulk");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var inFlight = new SendsInFlight();
        using var observing = host.Services.GetRequiredService<IBus>().ConnectSendObserver(inFlight);
        var factory = host.Services.GetRequiredService<PostgresOutboxRowsFactory<TestDbContext>>();
        var key = NewId.NextGuid();
        const int messages = 20;

        // One transaction, one source per message: the relay's next round claims them all at once.
        var rows = factory.Create();
        for (var sequence = 0; sequence < messages; sequence++)
        {
            rows.StartSource();
            await rows.PublishEndpoint.Publish(new SomethingHappened(key, sequence));
        }

        await using (var connection = new NpgsqlConnection(environment.ConnectionString))
        {
            await connection.OpenAsync();
            await using var batch = connection.CreateBatch();
            batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
            rows.AddTo(batch);
            batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            await batch.ExecuteNonQueryAsync();
        }

        rows.Committed();

        await using var check = environment.CreateDbContext();
        await Eventually.Until(() => check.Observations.CountAsync(x => x.Key == key), c => c == messages, what: "every relayed event");
        await Eventually.Until(() => check.OutboxMessages.CountAsync(), c => c == 0, what: "the relayed rows to be deleted");
        // A send is over once the broker confirmed it: a relay that waited for each confirm before the next send would
        // never have two under way.
        inFlight.Completed.ShouldBeGreaterThanOrEqualTo(messages);
        inFlight.MostAtOnce.ShouldBeGreaterThan(1);
    }

    /// <summary>How many sends were under way at once at most (begun, neither confirmed nor failed).</summary>
    sealed class SendsInFlight : ISendObserver
    {
        int _current;
        int _most;
        int _completed;

        public int MostAtOnce => Volatile.Read(ref _most);

        public int Completed => Volatile.Read(ref _completed);

        public Task PreSend<T>(SendContext<T> context)
            where T : class
        {
            var current = Interlocked.Increment(ref _current);
            int most;
            while (current > (most = Volatile.Read(ref _most)) && Interlocked.CompareExchange(ref _most, current, most) != most)
            {
            }

            return Task.CompletedTask;
        }

        public Task PostSend<T>(SendContext<T> context)
            where T : class
        {
            Interlocked.Increment(ref _completed);
            Interlocked.Decrement(ref _current);
            return Task.CompletedTask;
        }

        public Task SendFault<T>(SendContext<T> context, Exception exception)
            where T : class
        {
            Interlocked.Decrement(ref _current);
            return Task.CompletedTask;
        }
    }
}
