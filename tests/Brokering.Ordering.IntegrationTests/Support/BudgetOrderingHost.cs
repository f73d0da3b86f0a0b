using Microsoft.AspNetCore.Hosting;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>Ordering with a tenant budget small enough to spend in a test: <see cref="PermitsPerSecond"/>, a burst of twice that.</summary>
public abstract class BudgetOrderingHost : OrderingHost
{
    protected abstract int PermitsPerSecond { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("RateLimiting:PermitsPerSecondPerTenant", PermitsPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>5 requests a second, a burst of 10.</summary>
public sealed class SmallBudgetOrderingHost : BudgetOrderingHost
{
    protected override int PermitsPerSecond => 5;
}

/// <summary>
/// The smallest budget, one request a second and a burst of two: a test that must see a budget run out within one call
/// does, however slowly a loaded machine serves the call.
/// </summary>
public sealed class OnePerSecondOrderingHost : BudgetOrderingHost
{
    protected override int PermitsPerSecond => 1;
}
