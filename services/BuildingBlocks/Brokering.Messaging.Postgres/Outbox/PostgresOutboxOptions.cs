using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres;

/// <summary>Resolved outbox settings per DbContext type (registered through <c>IOptions</c>).</summary>
/// <typeparam name="TDbContext">The service's DbContext.</typeparam>
public sealed class PostgresOutboxOptions<TDbContext>
    where TDbContext : DbContext
{
    /// <summary>See <see cref="PostgresOutboxConfigurator.DuplicateDetectionWindow"/>.</summary>
    public TimeSpan DuplicateDetectionWindow { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>See <see cref="PostgresOutboxConfigurator.QueryDelay"/>.</summary>
    public TimeSpan QueryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>See <see cref="PostgresOutboxConfigurator.InboxCleanupInterval"/>.</summary>
    public TimeSpan InboxCleanupInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>See <see cref="PostgresOutboxConfigurator.QueryMessageLimit"/>.</summary>
    public int QueryMessageLimit { get; set; } = 100;

    /// <summary>See <see cref="PostgresOutboxConfigurator.QueryTimeout"/>.</summary>
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>See <see cref="PostgresOutboxConfigurator.MessageDeliveryLimit"/>.</summary>
    public int MessageDeliveryLimit { get; set; } = 100;

    /// <summary>See <see cref="PostgresOutboxConfigurator.MessageDeliveryTimeout"/>.</summary>
    public TimeSpan MessageDeliveryTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>See <see cref="PostgresOutboxConfigurator.MinRetryDelay"/>.</summary>
    public TimeSpan MinRetryDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>See <see cref="PostgresOutboxConfigurator.MaxRetryDelay"/>.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>See <see cref="PostgresOutboxConfigurator.StrandedConsumerOutboxAfter"/>.</summary>
    public TimeSpan StrandedConsumerOutboxAfter { get; set; } = TimeSpan.FromMinutes(2);

    internal void CopyFrom(PostgresOutboxConfigurator source)
    {
        DuplicateDetectionWindow = source.DuplicateDetectionWindow;
        QueryDelay = source.QueryDelay;
        InboxCleanupInterval = source.InboxCleanupInterval;
        QueryMessageLimit = source.QueryMessageLimit;
        QueryTimeout = source.QueryTimeout;
        MessageDeliveryLimit = source.MessageDeliveryLimit;
        MessageDeliveryTimeout = source.MessageDeliveryTimeout;
        MinRetryDelay = source.MinRetryDelay;
        MaxRetryDelay = source.MaxRetryDelay;
        StrandedConsumerOutboxAfter = source.StrandedConsumerOutboxAfter;
    }
}
