using Brokering.ServiceDefaults;
using Brokering.Testing;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;

namespace Brokering.Inventory.Tests;

/// <summary>
/// A service's bus that the broker keeps refusing reconnects by itself (<see cref="RefusedPublishWatch"/>), so a channel
/// that can never publish again (a RabbitMQ 3.10 channel that kept a dead quorum queue leader) does not strand the
/// outbox behind it. On the real broker, with the bus every service builds (<c>AddServiceBus</c>).
/// </summary>
public sealed class RefusedPublishReconnectionTests
{
    /// <summary>A message of the test's own; the exchange's name is given, so its type names nothing.</summary>
    public sealed record RefusalProbe(int Attempt);

    [Fact]
    public async Task A_bus_whose_publishes_the_broker_keeps_refusing_reconnects_once_and_publishes_again_on_its_new_connection()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync("refusals", cancellationToken);
        try
        {
            // A queue that takes nothing and refuses what it is given (reject-publish): the broker negatively confirms
            // every publish routed to it, as it does every publish of a channel that kept a dead queue leader.
            var factory = new ConnectionFactory { Uri = virtualHost };
            await using var connection = await factory.CreateConnectionAsync(cancellationToken);
            await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            await channel.ExchangeDeclareAsync("refusing", ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken);
            await channel.QueueDeclareAsync("refusing", durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?> { ["x-max-length"] = 0, ["x-overflow"] = "reject-publish" }, cancellationToken: cancellationToken);
            await channel.QueueBindAsync("refusing", "refusing", string.Empty, cancellationToken: cancellationToken);

            var builder = WebApplication.CreateSlimBuilder();
            builder.Configuration["ConnectionStrings:RabbitMq"] = virtualHost.ToString();
            builder.AddServiceBus(_ => { });
            await using var app = builder.Build();
            await app.StartAsync(cancellationToken);
            var watch = app.Services.GetRequiredService<RefusedPublishWatch>();
            var endpoint = await app.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri("exchange:refusing"));

            var attempt = 0;
            var busConnection = await Eventually.Until(() => TestInfrastructure.ListConnectionsAsync(virtualHost, cancellationToken),
                connections => connections.Count == 2, TimeSpan.FromSeconds(30), "the bus's connection beside the test's own",
                cancellationToken: cancellationToken);
            await Eventually.Until(async () =>
            {
                using var sendTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                sendTimeout.CancelAfter(TimeSpan.FromSeconds(3));
                // MassTransit retries a refused send about every second until the send gives up.
                await Should.ThrowAsync<Exception>(() => endpoint.Send(new RefusalProbe(++attempt), sendTimeout.Token));
                return watch.Reconnections;
            }, reconnections => reconnections > 0, TimeSpan.FromSeconds(60), "the bus to reconnect after refusals past a leader election",
                TimeSpan.Zero, cancellationToken: cancellationToken);

            watch.Reconnections.ShouldBe(1, "one reconnection per episode of refusals");

            // Once the broker takes publishes again, the bus publishes, on a new connection: the refused one was closed.
            await channel.QueueDeleteAsync("refusing", cancellationToken: cancellationToken);
            using var delivered = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            delivered.CancelAfter(TimeSpan.FromSeconds(30));
            await endpoint.Send(new RefusalProbe(++attempt), delivered.Token);
            await Eventually.Until(() => TestInfrastructure.ListConnectionsAsync(virtualHost, cancellationToken),
                connections => connections.Count == 2 && !connections.SequenceEqual(busConnection), TimeSpan.FromSeconds(30),
                "the bus's new connection in place of the refused one", cancellationToken: cancellationToken);
            await app.StopAsync(cancellationToken);
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost, CancellationToken.None);
        }
    }
}
