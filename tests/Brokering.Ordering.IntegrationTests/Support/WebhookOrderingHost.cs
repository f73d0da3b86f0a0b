using Brokering.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>
/// Ordering with webhook settings a test can wait out: endpoints on loopback over http (the receiver in the test),
/// retries from 200 ms doubling to at most 1 s, a pause after 5 failures in a row, at most 3 subscriptions a tenant.
/// </summary>
public sealed class WebhookOrderingHost : OrderingHost
{
    public const int FailuresBeforePause = 5;
    public const int MaxSubscriptionsPerTenant = 3;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        WebhookTestSettings.Apply(builder, FailuresBeforePause, MaxSubscriptionsPerTenant);
    }
}

/// <summary>
/// One run of ordering on a database and virtual host that outlive it, so a test can stop ordering and start it again
/// on the same data (compliance and inventory are not running, as in <see cref="OrderingHost"/>).
/// </summary>
public sealed class OrderingRun(string database, Uri virtualHost) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseTestInfrastructure("ordering", database, virtualHost);
        builder.UseSetting("Services:Compliance", "http://127.0.0.1:9");
        builder.UseSetting("Services:ComplianceApi", "http://127.0.0.1:9");
        builder.UseSetting("Services:Inventory", "http://127.0.0.1:9");
        builder.UseSetting("Logging:LogLevel:MassTransit", "Critical");
        builder.UseSetting("Logging:LogLevel:Microsoft.EntityFrameworkCore", "Error");
        WebhookTestSettings.Apply(builder, failuresBeforePause: 1000, maxSubscriptionsPerTenant: 3);
    }
}
