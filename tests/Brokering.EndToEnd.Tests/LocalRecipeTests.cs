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

        var distributorToken = await DevTokenAsync(system, "feed@arrow", "distributor", "arrow", cancel);
        await new ScrambleDriver((_, _, _) => BrokeringSystem.RestClient(system.Inventory, distributorToken))
            .PublishSnapshotAsync("arrow", 1, "NVIDIA-H20", "HKG-1", 10, 12000m, cancel);

        using var buyer = BrokeringSystem.RestClient(system.Ordering, await DevTokenAsync(system, "alice@acme", "buyer", "acme-servers", cancel));
        using var submitted = await buyer.PostAsJsonAsync("/v1/reservations",
            ScrambleDriver.Reservation("PO-LOCAL", "Acme Cloud Inc.", "AllOrNone", "Manual", [new Line("NVIDIA-H20", 4, 13000m)], destination: "US", endUserCountry: "US"),
            cancel);
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync(cancel));

        // Held: compliance screened it and inventory held it, both on ordering's own service token.
        await ScrambleDriver.WaitForStatusAsync(buyer, submitted.Headers.Location!, "Held", Patience, () => system.Logs, cancel);
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
