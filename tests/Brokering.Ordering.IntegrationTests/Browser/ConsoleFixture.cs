using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Saga;
using Microsoft.Playwright;

namespace Brokering.Ordering.IntegrationTests.Browser;

/// <summary>
/// Ordering on a real Kestrel port with a realistic set of sagas, and Debian's Chromium driven by
/// Playwright (headless; no browser is ever downloaded). Screenshots go to
/// <c>TestResults/screenshots</c> under the test output.
/// </summary>
public sealed class ConsoleFixture() : OrderingHost(kestrel: true)
{
    private const string DefaultChromium = "/usr/bin/chromium";

    private IPlaywright? playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string Screenshots { get; } = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

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

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var chromium = Environment.GetEnvironmentVariable("BROKERING_CHROMIUM") ?? DefaultChromium;
        if (!File.Exists(chromium))
        {
            throw new InvalidOperationException($"Chromium is not at {chromium}: `apt-get install -y chromium` (or set BROKERING_CHROMIUM).");
        }

        Directory.CreateDirectory(Screenshots);
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run",
            ],
        });
    }

    /// <summary>A fresh page (its own context) at a laptop-sized viewport, signed in as an operator unless told not to.</summary>
    public async Task<IPage> NewPageAsync(bool signedIn = true)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Address.ToString(),
            ViewportSize = new ViewportSize { Width = 1366, Height = 900 },
            Locale = "en-GB",
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(15_000);
        if (signedIn)
        {
            await context.AddInitScriptAsync($"sessionStorage.setItem('brokering.ops.token', '{OperatorToken}');");
        }

        return await context.NewPageAsync();
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, $"{name}.png"), FullPage = true });

    public override async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        playwright?.Dispose();
        await base.DisposeAsync();
    }
}
