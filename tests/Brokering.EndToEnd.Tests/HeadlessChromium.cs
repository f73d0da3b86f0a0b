using Microsoft.Playwright;

namespace Brokering.EndToEnd.Tests;

/// <summary>
/// Debian's Chromium driven by Playwright, headless; no browser is ever downloaded
/// (<c>PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1</c>, <c>ExecutablePath</c>). Screenshots go to
/// <c>TestResults/screenshots/full-system</c> under the test output.
/// </summary>
public sealed class HeadlessChromium : IAsyncLifetime
{
    private const string DefaultChromium = "/usr/bin/chromium";

    private IPlaywright? playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string Screenshots { get; } = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots", "full-system");

    public async ValueTask InitializeAsync()
    {
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
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>A fresh page (its own context) on <paramref name="baseAddress"/>, signed in to the ops console with <paramref name="opsToken"/>.</summary>
    public async Task<IPage> NewConsolePageAsync(Uri baseAddress, string opsToken)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1366, Height = 900 },
            Locale = "en-GB",
            TimezoneId = "UTC",
        });
        // Generous: two cores are shared by three services, the broker, the database and the browser.
        context.SetDefaultTimeout(60_000);
        await context.AddInitScriptAsync($"sessionStorage.setItem('brokering.ops.token', '{opsToken}');");
        return await context.NewPageAsync();
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, $"{name}.png"), FullPage = true });

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        playwright?.Dispose();
    }
}
