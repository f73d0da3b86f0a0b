using System.Diagnostics.Metrics;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Instruments of the messaging library, on the meter <c>Brokering.Messaging</c> (add it to OpenTelemetry with
/// <c>AddMeter(MessagingMetrics.MeterName)</c>).
/// </summary>
public sealed class MessagingMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Brokering.Messaging";

    readonly Meter _meter;
    readonly bool _ownsMeter;
    readonly Histogram<double> _schedulerLag;
    readonly Counter<long> _scheduledDelivered;
    readonly Counter<long> _outboxDelivered;
    long _outboxBacklog;
    double _outboxOldestAge;
    long _scheduledPending;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>, or on a private meter when null.</summary>
    public MessagingMetrics(IMeterFactory? meterFactory = null)
    {
        if (meterFactory is null)
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }
        else
            _meter = meterFactory.Create(MeterName);

        _schedulerLag = _meter.CreateHistogram<double>("brokering.messaging.scheduler.lag", "s",
            "Time from a scheduled message's due time to its hand-over to the broker.");
        _scheduledDelivered = _meter.CreateCounter<long>("brokering.messaging.scheduler.delivered", "{message}",
            "Scheduled messages handed to the broker.");
        _outboxDelivered = _meter.CreateCounter<long>("brokering.messaging.outbox.delivered", "{message}",
            "Bus-outbox messages relayed to the broker.");
        _meter.CreateObservableGauge("brokering.messaging.outbox.backlog", () => Volatile.Read(ref _outboxBacklog), "{message}",
            "Outbox messages waiting to be relayed (as last counted by the delivery service).");
        _meter.CreateObservableGauge("brokering.messaging.outbox.oldest_age", () => Volatile.Read(ref _outboxOldestAge), "s",
            "Age of the oldest outbox message waiting to be relayed, 0 when none waits (as last counted by the delivery service).");
        _meter.CreateObservableGauge("brokering.messaging.scheduler.pending", () => Volatile.Read(ref _scheduledPending), "{message}",
            "Scheduled messages waiting (as last counted by the scheduler).");
    }

    internal void RecordSchedulerLag(TimeSpan lag) => _schedulerLag.Record(Math.Max(0, lag.TotalSeconds));

    internal void ScheduledDelivered(int count) => _scheduledDelivered.Add(count);

    internal void OutboxDelivered(int count) => _outboxDelivered.Add(count);

    internal void SetOutboxBacklog(long count) => Volatile.Write(ref _outboxBacklog, count);

    internal void SetOutboxOldestAge(TimeSpan age) => Volatile.Write(ref _outboxOldestAge, Math.Max(0, age.TotalSeconds));

    internal void SetScheduledPending(long count) => Volatile.Write(ref _scheduledPending, count);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsMeter)
            _meter.Dispose();
    }
}
