using Brokering.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using BrokerPublishException = RabbitMQ.Client.Exceptions.PublishException;

namespace Brokering.Inventory.UnitTests;

/// <summary>
/// When a service's bus reconnects because the broker keeps refusing one destination (a RabbitMQ 3.10 channel that kept
/// a dead quorum queue leader): only after refusals outlasting a leader election, once per episode, at most once a minute.
/// </summary>
public sealed class RefusedPublishWatchTests
{
    private static readonly Uri Saga = new("rabbitmq://broker/reservation-state");
    private static readonly Uri Allocation = new("rabbitmq://broker/allocate-reservation");

    private readonly FakeTimeProvider time = new(DateTimeOffset.Parse("2026-12-06T06:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly RefusedPublishWatch watch;

    public RefusedPublishWatchTests() =>
        watch = new RefusedPublishWatch(new ServiceCollection().BuildServiceProvider(), time, NullLogger<RefusedPublishWatch>.Instance);

    [Fact]
    public void Refusals_for_less_than_an_election_takes_do_not_reconnect_and_refusals_past_it_reconnect_once()
    {
        // MassTransit retries a refused send about every second.
        for (var second = 0; second < 10; second++)
        {
            watch.Refused(Saga).ShouldBeFalse($"refused for {second} s");
            time.Advance(TimeSpan.FromSeconds(1));
        }

        watch.Refused(Saga).ShouldBeTrue("refused for 10 s without a confirmation");
        time.Advance(TimeSpan.FromSeconds(1));
        watch.Refused(Saga).ShouldBeFalse("the episode starts over after a reconnection");
        watch.Reconnections.ShouldBe(1);
    }

    [Fact]
    public void A_confirmed_publish_ends_the_refusals_of_its_destination_only()
    {
        for (var second = 0; second < 6; second++)
        {
            watch.Refused(Saga);
            watch.Refused(Allocation);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        watch.Confirmed(Saga);
        for (var second = 6; second < 10; second++)
        {
            watch.Refused(Saga).ShouldBeFalse($"refused for {second - 6} s since its last confirmation");
            watch.Refused(Allocation).ShouldBeFalse($"refused for {second} s");
            time.Advance(TimeSpan.FromSeconds(1));
        }

        watch.Refused(Saga).ShouldBeFalse("refused for 4 s since its last confirmation");
        watch.Refused(Allocation).ShouldBeTrue("refused for 10 s, never confirmed");
    }

    [Fact]
    public void A_refusal_after_a_pause_longer_than_an_election_is_a_new_episode()
    {
        watch.Refused(Saga);
        time.Advance(TimeSpan.FromMinutes(5));

        watch.Refused(Saga).ShouldBeFalse("one refusal now, one five minutes ago, none between");
        watch.Reconnections.ShouldBe(0);
    }

    [Fact]
    public void A_destination_refused_on_and_on_reconnects_the_bus_at_most_once_a_minute()
    {
        var reconnections = new List<TimeSpan>();
        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromMinutes(3); elapsed += TimeSpan.FromSeconds(1))
        {
            if (watch.Refused(Saga))
            {
                reconnections.Add(elapsed);
            }

            time.Advance(TimeSpan.FromSeconds(1));
        }

        reconnections.ShouldBe([TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(70), TimeSpan.FromSeconds(130)]);
    }

    [Fact]
    public void Only_a_negative_confirm_is_a_refusal_not_a_returned_message_or_a_closed_connection()
    {
        RefusedPublishWatch.IsRefusal(new RabbitMqConnectionException("BasicPublishAsync failed", new BrokerPublishException(7, isReturn: false)))
            .ShouldBeTrue();
        RefusedPublishWatch.IsRefusal(new RabbitMqConnectionException("BasicPublishAsync failed", new BrokerPublishException(7, isReturn: true)))
            .ShouldBeFalse();
        RefusedPublishWatch.IsRefusal(new RabbitMqConnectionException("Connection lost")).ShouldBeFalse();
        RefusedPublishWatch.IsRefusal(new TimeoutException()).ShouldBeFalse();
    }
}
