using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Brokering.Messaging.Postgres.Tests.Contracts;
using Brokering.Messaging.Postgres.Tests.Support;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Brokering.Testing;
using RabbitMQ.Client;

namespace Brokering.Messaging.Postgres.Tests;

/// <summary>
/// The relay sends a stored envelope without materialising it (<see cref="StoredEnvelopeSendPipe"/>): what a receiver
/// gets must be exactly what MassTransit's own <see cref="OutboxMessageSendPipe"/> sends for the same row, body bytes,
/// AMQP properties and headers, for a plain event, one with ids, headers and a time to live, and a scheduled message
/// (whose token header is not in its envelope).
/// </summary>
public sealed partial class RelayedEnvelopeTests
{
    [Fact]
    public async Task A_relayed_row_reaches_the_broker_exactly_as_MassTransit_s_outbox_pipe_sends_it()
    {
        // Listened to, MassTransit's send starts an activity and sets its id as a header at send time, which its pipe
        // merges into the envelope: the relay must too.
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "MassTransit" || source.Name == MessagingTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        await using var environment = await TestEnvironment.CreateAsync("relayenvelope");
        await using var host = await MessagingTestHost.StartAsync(environment);
        var bus = host.Services.GetRequiredService<IBus>();
        var rows = host.Services.GetRequiredService<PostgresOutboxRowsFactory<TestDbContext>>().Create();

        await rows.PublishEndpoint.Publish(new SomethingHappened(NewId.NextGuid(), 1));
        await rows.PublishEndpoint.Publish(new SomethingHappened(NewId.NextGuid(), 2), context =>
        {
            context.CorrelationId = NewId.NextGuid();
            context.ConversationId = NewId.NextGuid();
            context.InitiatorId = NewId.NextGuid();
            context.RequestId = NewId.NextGuid();
            context.TimeToLive = TimeSpan.FromHours(1);
            context.Headers.Set("Distributor-Id", "dist-é \"quoted\" <b>");
            context.Headers.Set("Attempt", 3);
            context.Headers.Set("Urgent", true);
            context.Headers.Set("MT-Custom", "carried");
        });
        var stored = rows.Rows.Messages;
        stored.Count.ShouldBe(2);

        var destination = stored[0].DestinationAddress!;
        var exchange = destination.AbsolutePath.Split('/')[^1];
        var factory = new ConnectionFactory { Uri = environment.VirtualHost };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        // MassTransit declares the message type's exchange on the first send; declared here (the same way) to bind first.
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true);
        var queue = (await channel.QueueDeclareAsync($"relay-identity-{Guid.NewGuid():N}", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, exchange, "");

        var contexts = new List<OutboxMessageContext>(stored.Select(OutboxMessageContext (row) => StoredMessageContext.From(row, SystemTextJsonMessageSerializer.Instance)));
        var scheduled = stored[1];
        contexts.Add(StoredMessageContext.From(new ScheduledMessageRecord
        {
            TokenId = NewId.NextGuid(),
            MessageId = scheduled.MessageId,
            CreatedAt = scheduled.SentTime,
            DestinationAddress = scheduled.DestinationAddress,
            ContentType = scheduled.ContentType,
            MessageType = scheduled.MessageType,
            Body = scheduled.Body,
            Headers = scheduled.Headers,
            ConversationId = scheduled.ConversationId,
            CorrelationId = scheduled.CorrelationId,
            InitiatorId = scheduled.InitiatorId,
        }, SystemTextJsonMessageSerializer.Instance));

        foreach (var message in contexts)
        {
            StoredEnvelopeSendPipe.For(message, destination).ShouldBeOfType<StoredEnvelopeSendPipe>("the row is relayed without MassTransit's pipe");

            var endpoint = await bus.GetSendEndpoint(destination);
            await endpoint.Send(new SerializedMessageBody(), new OutboxMessageSendPipe(message, destination));
            var expected = await GetAsync(channel, queue);

            await BusOutboxDeliveryService<TestDbContext>.Relay(bus, message, destination, TimeSpan.FromSeconds(30), CancellationToken.None);
            var actual = await GetAsync(channel, queue);

            // The expiration time is the send's now plus the time to live and the activity id is the send's own, so both
            // differ between two sends: compared apart, everything else byte for byte.
            actual.Body.ShouldContain(ActivityIdHeader);
            Masked(actual.Body).ShouldBe(Masked(expected.Body));
            actual.ContentType.ShouldBe(expected.ContentType);
            actual.MessageId.ShouldBe(message.MessageId.ToString());
            actual.MessageId.ShouldBe(expected.MessageId);
            actual.CorrelationId.ShouldBe(expected.CorrelationId);
            actual.Persistent.ShouldBe(expected.Persistent);
            Masked(actual.Headers).ShouldBe(Masked(expected.Headers));
            if (message == contexts[2])
            {
                actual.Headers.ShouldContain(MessageHeaders.SchedulingTokenId);
                actual.Body.ShouldContain(MessageHeaders.SchedulingTokenId);
            }

            (actual.Expiration is null).ShouldBe(expected.Expiration is null);
            if (message.ExpirationTime.HasValue)
            {
                Math.Abs(double.Parse(actual.Expiration!) - double.Parse(expected.Expiration!)).ShouldBeLessThan(TimeSpan.FromMinutes(1).TotalMilliseconds);
                ExpirationTime(actual.Body).ShouldNotBeNull();
                (DateTime.Parse(ExpirationTime(actual.Body)!) - DateTime.Parse(ExpirationTime(expected.Body)!)).Duration().ShouldBeLessThan(TimeSpan.FromMinutes(1));
            }
        }
    }

    static async Task<Received> GetAsync(IChannel channel, string queue)
    {
        BasicGetResult? result = null;
        await Eventually.Until(async () => (result = await channel.BasicGetAsync(queue, autoAck: true)) is not null, "the relayed message in the test's queue");
        var properties = result!.BasicProperties;
        // RabbitMQ.Client numbers each publish of a channel in a header of its own: not part of the message.
        var headers = (properties.Headers ?? new Dictionary<string, object?>())
            .Where(x => x.Key != "x-dotnet-pub-seq-no")
            .OrderBy(x => x.Key, StringComparer.Ordinal)
            .Select(x => $"{x.Key}={(x.Value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : Convert.ToString(x.Value, System.Globalization.CultureInfo.InvariantCulture))} ({x.Value?.GetType().Name})")
            .ToList();
        return new Received(Encoding.UTF8.GetString(result.Body.Span), properties.ContentType, properties.MessageId, properties.CorrelationId, properties.Persistent,
            properties.Expiration, string.Join("\n", headers));
    }

    const string ActivityIdHeader = "MT-Activity-Id";

    static string Masked(string text) =>
        ActivityId().Replace(ExpirationTimeField().Replace(text, "\"expirationTime\": \"…\""), "${name}…");

    static string? ExpirationTime(string body) => ExpirationTimeField().Match(body) is { Success: true } match ? match.Groups[1].Value : null;

    [GeneratedRegex("(?<name>MT-Activity-Id(\": \"|=))[0-9a-f-]+")]
    private static partial Regex ActivityId();

    [GeneratedRegex("\"expirationTime\": \"([^\"]+)\"")]
    private static partial Regex ExpirationTimeField();

    sealed record Received(string Body, string? ContentType, string? MessageId, string? CorrelationId, bool Persistent, string? Expiration, string Headers);
}
