using Microsoft.AspNetCore.Hosting;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>Ordering with a tenant budget small enough to spend in a test: 5 requests a second, a burst of 10.</summary>
public sealed class SmallBudgetOrderingHost : OrderingHost
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("RateLimiting:PermitsPerSecondPerTenant", "5");
    }
}
