using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Shouldly;

namespace Brokering.EndToEnd.Tests.Deployment;

/// <summary>
/// The Kubernetes dev overlay run, not only rendered: the three services started with exactly the environment
/// <c>kubectl kustomize deploy/k8s/overlays/dev</c> gives their pods (ConfigMaps, Secrets, env), on the overlay's
/// development seed, its PostgreSQL init and its broker definitions
/// (see <see cref="RecipeInstallation"/> for the little that is rewritten), with the accounts the recipe's own init SQL
/// and broker permissions make, and a reservation driven from a distributor's stock feed to confirmed through the
/// public APIs (<see cref="RecipeReservation"/>). A missing key, a role without a grant or a broker user without a
/// permission stops a service from starting or the reservation from getting through, and so fails here.
/// </summary>
public sealed class KubernetesDevOverlayTests
{
    [Fact]
    public async Task The_kubernetes_dev_overlay_takes_a_reservation_from_a_stock_feed_to_confirmed_on_its_development_keys_and_own_accounts()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var recipe = await DeploymentRecipe.FromKustomizeAsync("dev", cancel);
        await using var installation = await RecipeInstallation.StartAsync(recipe, cancel);
        RecipeReservation.NoServiceLoggedAnErrorWhileStarting(installation);

        // Development: tokens from ordering's /dev/tokens, trusted by inventory through the overlay's shared seed.
        async Task<string> Token(string role, string subject, string? tenant)
        {
            using var client = new HttpClient { BaseAddress = installation.Ordering.Rest };
            using var response = await client.PostAsJsonAsync("/dev/tokens", new { subject, roles = new[] { role }, tenant }, cancel);
            response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(cancel));
            return (await response.Content.ReadFromJsonAsync<JsonElement>(cancel)).GetProperty("accessToken").GetString()!;
        }

        await RecipeReservation.DriveAsync(installation, Token, cancel);
        await RecipeReservation.EachRoleReachesOnlyItsOwnDatabaseAsync(installation, cancel);
        await RecipeReservation.InventoryReadsTheStockFeedOnTheFeedsVirtualHostOnlyAsync(installation, cancel);
        RecipeReservation.EachServiceRanWithinItsContainersMemoryLimit(recipe, installation);
        await RecipeReservation.TheFeedsVirtualHostIsBoundedAsync(recipe, installation, cancel);
    }
}
