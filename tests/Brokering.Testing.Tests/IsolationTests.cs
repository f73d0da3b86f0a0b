using Npgsql;
using RabbitMQ.Client;

namespace Brokering.Testing.Tests;

public sealed class IsolationTests
{
    [Fact]
    public async Task Two_created_databases_are_distinct_and_each_accepts_a_table()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = await TestInfrastructure.CreateDatabaseAsync("isolation", ct);
        var second = await TestInfrastructure.CreateDatabaseAsync("isolation", ct);
        try
        {
            var firstName = new NpgsqlConnectionStringBuilder(first).Database;
            var secondName = new NpgsqlConnectionStringBuilder(second).Database;
            firstName.ShouldNotBe(secondName);

            foreach (var (connectionString, expected) in new[] { (first, firstName), (second, secondName) })
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(ct);
                await using var command = new NpgsqlCommand(
                    "CREATE TABLE probe (id int PRIMARY KEY); INSERT INTO probe VALUES (1); "
                    + "SELECT current_database() || ':' || count(*) FROM probe;",
                    connection);
                var result = (string?)await command.ExecuteScalarAsync(ct);
                result.ShouldBe($"{expected}:1");
            }
        }
        finally
        {
            await TestInfrastructure.DropDatabaseAsync(first, CancellationToken.None);
            await TestInfrastructure.DropDatabaseAsync(second, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_created_virtual_host_accepts_a_connection_and_a_quorum_queue()
    {
        var ct = TestContext.Current.CancellationToken;
        var vhost = await TestInfrastructure.CreateVirtualHostAsync("isolation", ct);
        try
        {
            vhost.AbsolutePath.ShouldStartWith("/isolation-");
            var factory = new ConnectionFactory { Uri = vhost };
            await using var connection = await factory.CreateConnectionAsync(ct);
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);

            var declared = await channel.QueueDeclareAsync(
                "probe",
                durable: true,
                exclusive: false,
                autoDelete: false,
                arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" },
                cancellationToken: ct);

            declared.QueueName.ShouldBe("probe");
            declared.MessageCount.ShouldBe(0u);
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(vhost, CancellationToken.None);
        }
    }
}
