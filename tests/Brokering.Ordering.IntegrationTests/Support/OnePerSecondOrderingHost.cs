using Microsoft.AspNetCore.Hosting;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>
/// Ordering with the smallest tenant budget, one request a second and a burst of two: a test that must see a budget run
/// out within one call does, however slowly a loaded machine serves the call.
/// </summary>
public sealed class OnePerSecondOrderingHost : OrderingHost
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("RateLimiting:PermitsPerSecondPerTenant", "1");
    }
}
