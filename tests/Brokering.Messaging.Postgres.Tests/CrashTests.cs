using Brokering.Messaging.Postgres.Tests.Support;
using Brokering.Testing;
using MassTransit;
using Npgsql;

namespace Brokering.Messaging.Postgres.Tests;

/// <summary>Consumers as real OS processes: killed with SIGKILL at the worst moment, or two of them on one queue.</summary>
public sealed class CrashTests
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task A_consumer_process_killed_after_its_commit_and_before_the_ack_has_one_effect_when_the_message_is_redelivered()
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await TestInfrastructure.CreateDatabaseAsync("msg_crash", ct);
        var vhost = await TestInfrastructure.CreateVirtualHostAsync("msg-crash", ct);
        try
        {
            var entryId = NewId.NextGuid();

            // The first process sends RecordEntry to its own ledger queue, consumes it and kills itself in PostConsume.
            Guid messageId;
            await using (var first = ConsumerHostProcess.Start(database, vhost, killAfterCommit: true, sendEntry: entryId))
            {
                (await first.WaitForExitAsync(Patience)).ShouldBe(137, $"killed by SIGKILL; output:\n{first.Output}");
                var committed = first.Lines.SingleOrDefault(l => l.StartsWith("committed ", StringComparison.Ordinal))
                    ?? throw new ShouldAssertException($"the process never reached PostConsume; output:\n{first.Output}");
                messageId = Guid.Parse(committed.Split(' ', ';')[1]);
                first.Lines.ShouldContain($"received {messageId} redelivered=False");
                first.Lines.Count(l => l == $"consuming {messageId}").ShouldBe(1);
            }

            // It died after the commit: the ledger row and the inbox record are durable although nothing was acknowledged.
            (await ScalarAsync<long>(database, "SELECT count(*) FROM ledger_entry WHERE entry_id = @id", entryId)).ShouldBe(1);
            (await ScalarAsync<int>(database, "SELECT receive_count FROM inbox_state WHERE message_id = @id", messageId)).ShouldBe(1);

            // A fresh process gets the same message again — it was never acknowledged — and its inbox skips it.
            await using var second = ConsumerHostProcess.Start(database, vhost, killAfterCommit: false);
            await second.WaitForLineAsync($"received {messageId} redelivered=True", Patience);
            await Eventually.Until(() => ScalarAsync<int>(database, "SELECT receive_count FROM inbox_state WHERE message_id = @id", messageId),
                c => c == 2, Patience, "the redelivery to pass through the inbox");

            // The event the first process published through the outbox reaches its consumer once, whichever process takes it.
            await Eventually.Until(() => ScalarAsync<long>(database, "SELECT count(*) FROM entry_observation WHERE entry_id = @id", entryId),
                c => c >= 1, Patience, "the EntryRecorded event to be consumed");
            await Task.Delay(TimeSpan.FromSeconds(2), ct);

            (await ScalarAsync<long>(database, "SELECT count(*) FROM ledger_entry WHERE entry_id = @id", entryId)).ShouldBe(1);
            (await ScalarAsync<long>(database, "SELECT count(*) FROM entry_observation WHERE entry_id = @id", entryId)).ShouldBe(1);
            second.Lines.ShouldNotContain($"consuming {messageId}", "the consumer must not run again for a message its inbox recorded as consumed");
            second.HasExited.ShouldBeFalse(second.Output);
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(vhost, CancellationToken.None);
            await TestInfrastructure.DropDatabaseAsync(database, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Two_consumer_processes_on_one_queue_give_each_entry_one_effect_even_for_duplicated_messages()
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await TestInfrastructure.CreateDatabaseAsync("msg_twoprocs", ct);
        var vhost = await TestInfrastructure.CreateVirtualHostAsync("msg-twoprocs", ct);
        try
        {
            const int entries = 100;
            await using var quiet = ConsumerHostProcess.Start(database, vhost, killAfterCommit: false);
            await quiet.WaitForLineAsync("ready", Patience);
            // The second process sends every entry twice under one MessageId, and both processes consume the queue.
            await using var sender = ConsumerHostProcess.Start(database, vhost, killAfterCommit: false, duplicatedEntries: entries);
            await sender.WaitForLineAsync($"sent {entries} entries twice", Patience);

            // The ledger consumer's inbox rows are those of RecordEntry messages (the others are the observer's).
            const string ledgerInbox = "FROM inbox_state WHERE message_id NOT IN (SELECT message_id FROM entry_observation WHERE message_id IS NOT NULL)";
            await Eventually.Until(() => CountAsync(database, "SELECT count(*) FROM entry_observation"), c => c >= entries, Patience, "every EntryRecorded event");
            await Eventually.Until(() => CountAsync(database, $"SELECT coalesce(sum(receive_count), 0) {ledgerInbox}"),
                c => c >= 2 * entries, Patience, "both copies of every entry to pass through the inbox");
            await Task.Delay(TimeSpan.FromSeconds(2), ct);

            (await CountAsync(database, "SELECT count(*) FROM ledger_entry")).ShouldBe(entries);
            (await CountAsync(database, $"SELECT count(*) {ledgerInbox}")).ShouldBe(entries);
            (await CountAsync(database, $"SELECT coalesce(sum(receive_count), 0) {ledgerInbox}")).ShouldBe(2 * entries);
            (await CountAsync(database, "SELECT count(*) FROM entry_observation")).ShouldBe(entries);
            (await CountAsync(database, "SELECT count(DISTINCT entry_id) FROM entry_observation")).ShouldBe(entries);

            // Both processes really consumed from the queue, and the consumer ran exactly once per entry across them.
            static int Count(ConsumerHostProcess host, string prefix) => host.Lines.Count(l => l.StartsWith(prefix, StringComparison.Ordinal));
            Count(quiet, "received ").ShouldBeGreaterThan(0, quiet.Output);
            Count(sender, "received ").ShouldBeGreaterThan(0, sender.Output);
            (Count(quiet, "received ") + Count(sender, "received ")).ShouldBe(2 * entries);
            (Count(quiet, "consuming ") + Count(sender, "consuming ")).ShouldBe(entries);
            quiet.HasExited.ShouldBeFalse(quiet.Output);
            sender.HasExited.ShouldBeFalse(sender.Output);
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(vhost, CancellationToken.None);
            await TestInfrastructure.DropDatabaseAsync(database, CancellationToken.None);
        }
    }

    static async Task<long> CountAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    static async Task<T> ScalarAsync<T>(string connectionString, string sql, Guid id)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("id", id);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
