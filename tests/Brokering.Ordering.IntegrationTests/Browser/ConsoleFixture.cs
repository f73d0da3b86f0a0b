using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Saga;
using Brokering.Testing.Browser;
using Microsoft.Playwright;

namespace Brokering.Ordering.IntegrationTests.Browser;

/// <summary>
/// Ordering on a real Kestrel port with a realistic set of sagas, and Debian's Chromium driven by
/// Playwright (headless; no browser is ever downloaded). Screenshots go to
/// <c>TestResults/screenshots</c> under the test output.
/// </summary>
public sealed class ConsoleFixture() : OrderingHost(kestrel: true)
{
    private HeadlessChromium? chromium;

    /// <summary>Held with holds at two distributors: the one the detail test opens.</summary>
    public ReservationState ToInspect { get; private set; } = null!;

    public IReadOnlyList<ReservationState> Seeded { get; private set; } = [];

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        var now = DateTimeOffset.UtcNow;
        ToInspect = Sagas.In("Held", "supermicro-sg", now.AddMinutes(9), quantity: 120, distributors: ["arrow", "avnet", "arrow"]);
        Seeded =
        [
            ToInspect,
            Sagas.In("AwaitingStock", "inspur-hk", now.AddMinutes(4), quantity: 64, distributors: "ingram"),
            Sagas.In("AwaitingStock", "quanta-tw", now.AddMinutes(38), sku: "NVIDIA-H20-SXM5-96GB", quantity: 200, distributors: "avnet"),
            Sagas.In("Allocating", "inspur-hk", now.AddMinutes(13), quantity: 32),
            Sagas.In("Screening", "wiwynn-tw", null, sku: "NVIDIA-H20-SXM5-96GB", quantity: 8),
            Sagas.In("Confirming", "supermicro-sg", now.AddMinutes(3), quantity: 24, distributors: "arrow"),
            Sagas.In("Confirmed", "quanta-tw", now.AddMinutes(-30), quantity: 48, distributors: ["arrow", "wpg"]),
            Sagas.In("Confirmed", "lenovo-apac", now.AddMinutes(-5), sku: "NVIDIA-A800-PCIE-80GB", quantity: 10, distributors: "avnet"),
            Sagas.In("Rejected", "sugon-cn", now.AddMinutes(-60), quantity: 500),
            Sagas.In("Expired", "inspur-hk", now.AddMinutes(20), quantity: 16, distributors: "ingram"),
            Sagas.In("CutoffMissed", "wiwynn-tw", now.AddMinutes(-1), quantity: 80, distributors: "arrow"),
        ];
        await SeedAsync([.. Seeded]);

        chromium = await HeadlessChromium.LaunchAsync();
    }

    /// <summary>A fresh page (its own context) at a laptop-sized viewport, signed in as an operator unless told not to.</summary>
    public Task<IPage> NewPageAsync(bool signedIn = true) =>
        chromium!.NewConsolePageAsync(Address, signedIn ? OperatorToken : null);

    /// <summary>A page signed in with the given token.</summary>
    public Task<IPage> NewPageAsync(string token) => chromium!.NewConsolePageAsync(Address, token);

    /// <summary>A full-page screenshot under <c>TestResults/screenshots</c>.</summary>
    public Task ScreenshotAsync(IPage page, string name) => chromium!.ScreenshotAsync(page, name);

    public override async ValueTask DisposeAsync()
    {
        if (chromium is not null)
        {
            await chromium.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
