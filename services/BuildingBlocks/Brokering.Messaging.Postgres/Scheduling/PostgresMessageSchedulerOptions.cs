namespace Brokering.Messaging.Postgres;

/// <summary>Settings of <c>AddPostgresMessageScheduler&lt;TDbContext&gt;</c>.</summary>
public sealed class PostgresMessageSchedulerOptions
{
    /// <summary>
    /// The scheduler's queue (<c>ScheduleMessage</c>/<c>CancelScheduledMessage</c> are sent there). Default <c>scheduler</c>;
    /// give each service its own (e.g. <c>ordering-scheduler</c>) when several share a virtual host.
    /// </summary>
    public string QueueName { get; set; } = "scheduler";

    /// <summary>Longest wait between two looks for due messages. Default 1 second.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many due messages one transaction takes. Default 100.</summary>
    public int BatchSize { get; set; } = 100;

    /// <summary>Timeout of one broker send (including the publisher confirm). Default 10 seconds.</summary>
    public TimeSpan MessageDeliveryTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a cancelled schedule's row is kept (it stops a late <c>ScheduleMessage</c>). Default 1 day.</summary>
    public TimeSpan CancelledRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>First back-off after the broker refused every send of a round; doubles up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan MinRetryDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest back-off while the broker is unreachable. Default 10 seconds.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A timer set or cancelled while consuming (a saga's <c>Schedule</c>/<c>Unschedule</c>) is written to
    /// <c>scheduled_message</c> in the consumer's own transaction rather than sent to the scheduler's queue: one message,
    /// one consume and one transaction fewer per timer, the same "armed iff the transition commits". Default true; false
    /// sends every command through the queue as before.
    /// </summary>
    public bool WriteSchedulesInTransaction { get; set; } = true;

    /// <summary>Concurrent messages on the scheduler endpoint. Default 16.</summary>
    public int ConcurrentMessageLimit { get; set; } = 16;

    /// <summary>
    /// The scheduler's address for <c>UseMessageScheduler</c>/<c>AddMessageScheduler</c>: its exchange, not its queue.
    /// Sending to <c>queue:</c> would make the sender declare the queue without arguments, which RabbitMQ refuses
    /// (406 inequivalent x-queue-type) once the endpoint has declared it as a quorum queue.
    /// </summary>
    public Uri SchedulerAddress => new($"exchange:{QueueName}");
}
