using Microsoft.AspNetCore.Hosting;

namespace Brokering.Testing;

/// <summary>
/// The webhook settings of the services' test hosts: endpoints on loopback over http (a <see cref="WebhookReceiver"/>),
/// retries from 200 ms doubling to at most 1 s, a pass every 100 ms.
/// </summary>
public static class WebhookTestSettings
{
    public static readonly TimeSpan RetryBase = TimeSpan.FromMilliseconds(200);

    public static void Apply(IWebHostBuilder builder, int failuresBeforePause, int maxSubscriptionsPerTenant)
    {
        builder.UseSetting("Webhooks:AllowInsecureLoopback", "true");
        builder.UseSetting("Webhooks:RetryBaseInterval", RetryBase.ToString());
        builder.UseSetting("Webhooks:RetryMaxInterval", "00:00:01");
        builder.UseSetting("Webhooks:PollInterval", "00:00:00.100");
        builder.UseSetting("Webhooks:DeliveryTimeout", "00:00:05");
        builder.UseSetting("Webhooks:FailuresBeforePause", failuresBeforePause.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Webhooks:MaxSubscriptionsPerTenant", maxSubscriptionsPerTenant.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
