namespace Brokering.Webhooks;

/// <summary>Tunables of a service's webhooks (section <c>Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    /// <summary>
    /// Lets an endpoint be <c>http://</c> on a loopback address (127.0.0.0/8, ::1, localhost), for tests and a developer's
    /// machine only: the service refuses to start with it in Production. Private and link-local addresses stay refused.
    /// </summary>
    public bool AllowInsecureLoopback { get; set; }

    /// <summary>Most subscriptions one tenant may have.</summary>
    public int MaxSubscriptionsPerTenant { get; set; } = 10;

    /// <summary>Longest endpoint URL accepted.</summary>
    public int MaxUrlLength { get; set; } = 2048;

    /// <summary>How long one delivery attempt may take, connection included, before it counts as failed.</summary>
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait after a delivery's first failed attempt; each further failure doubles it, up to <see cref="RetryMaxInterval"/>.</summary>
    public TimeSpan RetryBaseInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest wait between two attempts of one delivery.</summary>
    public TimeSpan RetryMaxInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Failed attempts in a row (any of the subscription's deliveries, with no success between) after which the
    /// subscription is paused until its tenant resumes it. At the defaults, more than a day of failures.
    /// </summary>
    public int FailuresBeforePause { get; set; } = 40;

    /// <summary>How often the dispatcher looks for new changes and due deliveries when it found nothing to do.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Deliveries sent at once by one replica.</summary>
    public int ConcurrentDeliveries { get; set; } = 16;

    /// <summary>Most changes turned into deliveries for one subscription in one pass.</summary>
    public int FanOutBatch { get; set; } = 500;

    /// <summary>
    /// How long a claimed delivery is left to the replica that claimed it before another may send it (the claimant
    /// died mid-send). Longer than an attempt can take.
    /// </summary>
    public TimeSpan ClaimLease => DeliveryTimeout + DeliveryTimeout + TimeSpan.FromSeconds(5);
}
