using Microsoft.Playwright;

namespace Brokering.Testing.Browser;

/// <summary>
/// Debian's Chromium driven by Playwright, headless; no browser is ever downloaded
/// (<c>PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1</c>, <c>ExecutablePath</c>). The executable is <c>BROKERING_CHROMIUM</c>,
/// else <c>/usr/bin/chromium</c> (what <c>deploy/local/test.sh</c> and <c>.ci/run</c> install).
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    private const string DefaultChromium = "/usr/bin/chromium";

    private readonly IPlaywright playwright;

    private HeadlessChromium(IPlaywright playwright, IBrowser browser, string screenshots)
    {
        this.playwright = playwright;
        Browser = browser;
        Screenshots = screenshots;
    }

    public IBrowser Browser { get; }

    /// <summary>Where <see cref="ScreenshotAsync"/> writes: <c>TestResults/screenshots[/set]</c> under the test output.</summary>
    public string Screenshots { get; }

    /// <summary>Starts the browser; <paramref name="screenshotSet"/> names a folder of its own for the screenshots.</summary>
    public static async Task<HeadlessChromium> LaunchAsync(string? screenshotSet = null)
    {
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var chromium = Environment.GetEnvironmentVariable("BROKERING_CHROMIUM") ?? DefaultChromium;
        if (!File.Exists(chromium))
        {
            throw new InvalidOperationException($"Chromium is not at {chromium}: `apt-get install -y chromium` (or set BROKERING_CHROMIUM).");
        }

        var screenshots = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots", screenshotSet ?? string.Empty);
        Directory.CreateDirectory(screenshots);
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
            });
            return new HeadlessChromium(playwright, browser, screenshots);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A fresh page (its own context) on <paramref name="baseAddress"/> at a laptop-sized viewport, signed in to the
    /// ops console with <paramref name="opsToken"/> (null: signed out).
    /// </summary>
    public async Task<IPage> NewConsolePageAsync(Uri baseAddress, string? opsToken)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1366, Height = 900 },
            Locale = "en-GB",
            TimezoneId = "UTC",
        });
        // Generous: two cores are shared by the services, the broker, the database and the browser.
        context.SetDefaultTimeout(60_000);
        if (opsToken is not null)
        {
            await context.AddInitScriptAsync($"sessionStorage.setItem('brokering.ops.token', '{opsToken}');");
        }

        return await context.NewPageAsync();
    }

    /// <summary>A full-page screenshot, <c>{name}.png</c> in <see cref="Screenshots"/>.</summary>
    public Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, $"{name}.png"), FullPage = true });

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        playwright.Dispose();
    }
}
