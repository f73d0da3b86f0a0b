using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Testing.Installation;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>The three services with a hold window short enough to watch a partial fill outlive several of them.</summary>
public sealed class HoldRenewalSystem() : BrokeringSystem(new BrokeringSystemOptions
{
    Environment = new Dictionary<string, string> { ["Ordering__HoldTimeToLive"] = HoldRenewalTests.Window.ToString("c") },
}), IAsyncLifetime;

/// <summary>
/// A partial fill through the public APIs: it keeps what it holds past window after window while it waits for stock
/// (ordering renews the holds in inventory), and the stock that comes later fills it.
/// </summary>
public sealed class HoldRenewalTests(HoldRenewalSystem system) : IClassFixture<HoldRenewalSystem>
{
    // Renewed half way through: 5 s of slack for a renewal on a machine saturated by the rest of the suite.
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_partial_fill_keeps_its_holds_across_several_windows_until_stock_arrives_and_is_then_confirmed()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await system.PublishSnapshotAsync("arrow", 1, Sku, "HKG-1", 4, 31000m, cancellationToken);
        using var buyer = system.Buyer("renewal-buyer");
        using var submitted = await buyer.PostAsJsonAsync("/v1/reservations",
            ScrambleDriver.Reservation("PO-RENEW-1", "Acme Hosting", "AllowPartial", "Manual", [new Line(Sku, 10, 32000m)], minFillRatio: 0.3m,
                destination: "US", endUserCountry: "US"),
            cancellationToken);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync(cancellationToken));
        var location = submitted.Headers.Location!;
        var waiting = await ScrambleDriver.WaitForStatusAsync(buyer, location, "AwaitingStock", Patience, () => system.Logs, cancellationToken);
        var firstWindow = waiting.GetProperty("holdsExpireAt").GetDateTimeOffset();

        // Three windows on, where the first window's end used to expire it: still waiting, its four units still held.
        await Task.Delay(Window * 3, cancellationToken);
        var later = await buyer.GetFromJsonAsync<JsonElement>(location, cancellationToken);
        later.GetProperty("status").GetString().ShouldBe("AwaitingStock", system.Logs);
        later.GetProperty("holdsExpireAt").GetDateTimeOffset().ShouldBeGreaterThan(firstWindow + Window);
        using var distributor = system.Distributor("arrow");
        var holds = await distributor.GetFromJsonAsync<JsonElement>("/v1/distributor/holds", cancellationToken);
        var reservationId = location.ToString().Split('/')[^1];
        var held = holds.GetProperty("holds").EnumerateArray().Where(hold => hold.GetProperty("reservationId").GetString() == reservationId).ToList();
        held.Count.ShouldBe(1, holds.ToString());
        held[0].GetProperty("status").GetString().ShouldBe("held");
        held[0].GetProperty("units").GetInt64().ShouldBe(4);
        held[0].GetProperty("expiresAt").GetDateTimeOffset().ShouldBeGreaterThan(DateTimeOffset.UtcNow);

        // The distributor's stock rises: the missing six units are held, and the buyer confirms the whole line.
        await system.PublishSnapshotAsync("arrow", 2, Sku, "HKG-1", 20, 31000m, cancellationToken);
        await ScrambleDriver.WaitForStatusAsync(buyer, location, "Held", Patience, () => system.Logs, cancellationToken);
        using var confirm = await buyer.PostAsync(new Uri($"{location}/confirm", UriKind.Relative), null, cancellationToken);
        confirm.StatusCode.ShouldBe(HttpStatusCode.Accepted, await confirm.Content.ReadAsStringAsync(cancellationToken));
        var confirmed = await ScrambleDriver.WaitForStatusAsync(buyer, location, "Confirmed", Patience, () => system.Logs, cancellationToken);
        confirmed.GetProperty("lines")[0].GetProperty("allocated").GetInt64().ShouldBe(10);

        var report = await ScrambleDriver.SettleInvariantsAsync(system.Databases, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), cancellationToken);
        report.Passed.ShouldBeTrue(report.ToString());
    }
}
