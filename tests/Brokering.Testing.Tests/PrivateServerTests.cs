using System.Text;
using Brokering.Testing.Faults;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Brokering.Testing.Tests;

/// <summary>The private servers the fault tests stop, kill and restart behave like real servers across those faults.</summary>
public sealed class PrivateServerTests
{
    [Fact]
    public async Task A_private_postgres_keeps_committed_rows_across_an_immediate_stop_and_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var postgres = await PrivatePostgres.StartAsync(ct);
        var shared = new NpgsqlConnectionStringBuilder((await TestInfrastructure.GetSettingsAsync()).PostgresConnectionString);
        postgres.Port.ShouldNotBe(shared.Port);

        await ExecuteAsync(postgres.ConnectionString(), "CREATE DATABASE crash_probe", ct);
        await ExecuteAsync(
            postgres.ConnectionString("crash_probe"),
            "CREATE TABLE probe (id int PRIMARY KEY); INSERT INTO probe SELECT generate_series(1, 100);",
            ct);

        await postgres.StopImmediateAsync();
        await Should.ThrowAsync<NpgsqlException>(() => ExecuteAsync(postgres.ConnectionString(), "SELECT 1", ct));

        await postgres.StartAgainAsync(ct);
        await using var connection = new NpgsqlConnection(postgres.ConnectionString("crash_probe"));
        await connection.OpenAsync(ct);
        await using var count = new NpgsqlCommand("SELECT count(*) FROM probe", connection);
        ((long)(await count.ExecuteScalarAsync(ct))!).ShouldBe(100);
    }

    [Fact]
    public async Task A_killed_private_rabbitmq_comes_back_with_its_durable_queues_messages()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await PrivateRabbitMq.StartAsync(ct);
        (await TestInfrastructure.GetSettingsAsync()).RabbitMqUri.Port.ShouldNotBe(broker.AmqpUri.Port);
        var factory = new ConnectionFactory
        {
            Uri = broker.AmqpUri,
            AutomaticRecoveryEnabled = false,
        };

        await using (var connection = await factory.CreateConnectionAsync(ct))
        {
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
            await channel.QueueDeclareAsync("classic", durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
        }

        // RabbitMQ 3.10 keeps queue definitions in Mnesia, whose log can still be in the node's memory a moment after
        // the declaration: a node killed then came back with no queue at all ("Recovering 0 queues"), about one run in
        // twenty. What this test proves is that persistent messages survive a kill, so the queue is declared in an
        // earlier life of the node and written out by a graceful stop, as a service's topology is long before a crash.
        await broker.StopAsync();
        await broker.StartAgainAsync(ct);

        await using (var connection = await factory.CreateConnectionAsync(ct))
        {
            // With confirms on, each publish returns only once the broker has the message on disk.
            await using var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
            for (var i = 1; i <= 20; i++)
            {
                await channel.BasicPublishAsync(
                    string.Empty, "classic", mandatory: true, new BasicProperties { Persistent = true },
                    Encoding.UTF8.GetBytes($"message {i}"), ct);
            }
        }

        await broker.KillAsync();
        broker.IsRunning.ShouldBeFalse();
        await Should.ThrowAsync<BrokerUnreachableException>(() => factory.CreateConnectionAsync(ct));

        await broker.StartAgainAsync(ct);
        List<string> drained;
        try
        {
            drained = await DrainAsync(factory, "classic", ct);
        }
        catch (OperationInterruptedException e)
        {
            throw new InvalidOperationException($"{e.Message}\n{broker.Diagnostics()}", e);
        }

        drained.ShouldBe(Enumerable.Range(1, 20).Select(i => $"message {i}"));
    }

    [Fact]
    public async Task A_gracefully_stopped_private_rabbitmq_restarts_on_the_same_port_with_its_queues()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await PrivateRabbitMq.StartAsync(ct);
        var factory = new ConnectionFactory { Uri = broker.AmqpUri, AutomaticRecoveryEnabled = false };
        await using (var connection = await factory.CreateConnectionAsync(ct))
        {
            await using var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
            await channel.QueueDeclareAsync("survivor", durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
            await channel.BasicPublishAsync(
                string.Empty, "survivor", mandatory: true, new BasicProperties { Persistent = true }, "kept"u8.ToArray(), ct);
        }

        await broker.StopAsync();
        broker.IsRunning.ShouldBeFalse();
        await broker.StartAgainAsync(ct);

        await using var again = await factory.CreateConnectionAsync(ct);
        await using var reader = await again.CreateChannelAsync(cancellationToken: ct);
        var declared = await reader.QueueDeclarePassiveAsync("survivor", ct);
        declared.MessageCount.ShouldBe(1u);
    }

    [Fact]
    public async Task A_private_rabbitmq_cluster_keeps_a_quorum_queues_messages_when_the_node_that_took_them_is_killed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await PrivateRabbitMqCluster.StartAsync(3, ct);
        var first = new ConnectionFactory { Uri = cluster.Nodes[0].AmqpUri, AutomaticRecoveryEnabled = false };
        await using (var connection = await first.CreateConnectionAsync(ct))
        {
            // Declared and filled through the first node, so its leader is there: the kill takes the leader.
            await using var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
            await channel.QueueDeclareAsync("replicated", durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: ct);
            for (var i = 1; i <= 20; i++)
            {
                await channel.BasicPublishAsync(
                    string.Empty, "replicated", mandatory: true, new BasicProperties { Persistent = true },
                    Encoding.UTF8.GetBytes($"message {i}"), ct);
            }
        }

        await cluster.Nodes[0].KillAsync();

        // The cluster's address lists every node: a client given it connects to one that is still up.
        var address = Brokering.ServiceDefaults.BrokerAddress.Parse(cluster.ConnectionString, "cluster");
        address.Nodes.Count.ShouldBe(3);
        var survivor = new ConnectionFactory { Uri = address.Nodes[1], AutomaticRecoveryEnabled = false };
        List<string> drained;
        try
        {
            // The survivors elect a new leader within seconds; until then a read answers 541 "nodedown", and a
            // client (MassTransit's receive endpoints among them) opens a channel again.
            await Eventually.Succeeds(async () =>
            {
                await using var connection = await survivor.CreateConnectionAsync(ct);
                await using var probe = await connection.CreateChannelAsync(cancellationToken: ct);
                (await probe.BasicGetAsync("replicated", autoAck: false, ct)).ShouldNotBeNull();
            }, e => e is OperationInterruptedException { ShutdownReason.ReplyCode: 541 }, TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(250),
                cancellationToken: ct);
            drained = await DrainAsync(survivor, "replicated", ct);
        }
        catch (OperationInterruptedException e)
        {
            throw new InvalidOperationException($"{e.Message}\n{await cluster.DiagnosticsAsync()}", e);
        }

        // The probe's unacknowledged read went back to the queue when its channel closed: every message, once each.
        drained.ShouldBe(Enumerable.Range(1, 20).Select(i => $"message {i}"), ignoreOrder: true);
    }

    private static async Task<List<string>> DrainAsync(ConnectionFactory factory, string queue, CancellationToken cancellationToken)
    {
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);

        // After a kill the node accepts connections before every durable queue of the default virtual host is back
        // (a queue being recovered answers NOT_FOUND "home node … is down"): wait for the queue as a client would.
        await Eventually.Succeeds(async () =>
        {
            await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            await probe.QueueDeclarePassiveAsync(queue, cancellationToken);
        }, e => e is OperationInterruptedException { ShutdownReason.ReplyCode: 404 }, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(500),
            cancellationToken: cancellationToken);

        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var bodies = new List<string>();
        while (await channel.BasicGetAsync(queue, autoAck: true, cancellationToken) is { } message)
        {
            bodies.Add(Encoding.UTF8.GetString(message.Body.Span));
        }

        return bodies;
    }

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
