using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Testing;
using Brokering.Testing.Installation;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>
/// The three services started as deploy/local/up.sh starts them: Development, no key configured,
/// one development seed. A token from ordering's <c>/dev/tokens</c> works at inventory (as the README's examples use
/// it), and ordering's calls to compliance and inventory are trusted under the service keys each derives.
/// </summary>
public sealed class LocalRecipeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task With_no_key_configured_services_in_development_trust_each_other_through_one_development_seed()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var system = new BrokeringSystem(new BrokeringSystemOptions
        {
            TestKeys = false,
            Environment = new Dictionary<string, string> { ["Authentication__DevelopmentKeySeed"] = $"e2e-{Guid.NewGuid():N}" },
        });
        await system.InitializeAsync();

        using var distributor = BrokeringSystem.RestClient(system.Inventory, await DevTokenAsync(system, "feed@arrow", "distributor", "arrow", cancel));
        using var feed = await distributor.PostAsJsonAsync("/v1/distributors/arrow/stock-feed", new
        {
            distributorId = "arrow",
            sequence = 1,
            kind = "Snapshot",
            items = new[] { new { sku = "NVIDIA-H20", warehouse = "HKG-1", quantityOnHand = 10, unitPrice = 12000m, currency = "USD", leadTimeDays = 3, minimumOrderQuantity = 1 } },
        }, cancel);
        feed.IsSuccessStatusCode.ShouldBeTrue(await feed.Content.ReadAsStringAsync(cancel));

        using var buyer = BrokeringSystem.RestClient(system.Ordering, await DevTokenAsync(system, "alice@acme", "buyer", "acme-servers", cancel));
        using var submitted = await buyer.PostAsJsonAsync("/v1/reservations", new
        {
            buyerReference = "PO-LOCAL",
            endUser = new { name = "Acme Cloud Inc.", country = "US" },
            destinationCountry = "US",
            fillPolicy = new { kind = "AllOrNone" },
            confirmation = "Manual",
            lines = new[] { new { sku = "NVIDIA-H20", quantity = 4, maxUnitPrice = 13000m, currency = "USD" } },
        }, cancel);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync(cancel));

        // Held: compliance screened it and inventory held it, both on ordering's own service token.
        await ReservationDriver.WaitForStatusAsync(system, buyer, submitted.Headers.Location!, "Held", Patience, cancel);
        using var testIssuer = BrokeringSystem.RestClient(system.Ordering, TestTokens.Buyer("acme-servers"));
        using var refused = await testIssuer.GetAsync(submitted.Headers.Location!, cancel);
        refused.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, "no issuer but the development one is trusted here");
    }

    private static async Task<string> DevTokenAsync(BrokeringSystem system, string subject, string role, string tenant, CancellationToken cancel)
    {
        using var client = new HttpClient { BaseAddress = system.Ordering.Rest };
        using var response = await client.PostAsJsonAsync("/dev/tokens", new { subject, roles = new[] { role }, tenant }, cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(cancel)).GetProperty("accessToken").GetString()!;
    }
}
