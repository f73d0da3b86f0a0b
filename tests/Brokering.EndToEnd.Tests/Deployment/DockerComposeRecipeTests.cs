using System.Net;
using System.Net.Http.Json;
using Brokering.Testing.Installation;
using Shouldly;

namespace Brokering.EndToEnd.Tests.Deployment;

/// <summary>
/// docker-compose.yml run, not only parsed: the three services started with exactly the environment
/// <c>docker-compose config</c> resolves for their containers, secrets from a fresh deploy/docker/provision.sh
/// and user tokens from deploy/docker/token.sh
/// (see <see cref="RecipeInstallation"/> for the little that is rewritten), with the accounts the recipe's own init SQL
/// and broker permissions make, and a reservation driven from a distributor's stock feed to confirmed through the
/// public APIs (<see cref="RecipeReservation"/>). A missing key, a role without a grant or a broker user without a
/// permission stops a service from starting or the reservation from getting through, and so fails here.
/// </summary>
public sealed class DockerComposeRecipeTests
{
    private static readonly string[] OpsRole = ["ops"];

    [Fact]
    public async Task Docker_compose_in_production_settings_takes_a_reservation_from_a_stock_feed_to_confirmed_on_its_provisioned_keys_and_accounts()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var recipe = await DeploymentRecipe.FromComposeAsync(["docker-compose.yml"], cancel);
        foreach (var (service, container) in recipe.Services)
        {
            container.Environment["ASPNETCORE_ENVIRONMENT"].ShouldBe("Production", service);
        }

        await using var installation = await RecipeInstallation.StartAsync(recipe, cancel);

        RecipeReservation.NoServiceLoggedAnErrorWhileStarting(installation);

        // User tokens as an operator of the compose installation mints them: deploy/docker/token.sh with provision.sh's issuer key.
        Task<string> Token(string role, string subject, string? tenant) => ComposeTokenAsync(recipe, role, subject, tenant, cancel);
        await RecipeReservation.DriveAsync(installation, Token, cancel);
        await RecipeReservation.MalformedBodiesAreRefusedFieldByFieldAsync(installation, Token, cancel);
        await RecipeReservation.EachRoleReachesOnlyItsOwnDatabaseAsync(installation, cancel);
        await RecipeReservation.InventoryReadsTheStockFeedOnTheFeedsVirtualHostOnlyAsync(installation, cancel);
        await RecipeReservation.TheFeedsVirtualHostIsBoundedAsync(recipe, installation, cancel);
        RecipeReservation.EachServiceRanWithinItsContainersMemoryLimit(recipe, installation);

        // Production: there is no development issuer to ask for a token, even for a caller with a good one.
        using var buyer = BrokeringSystem.RestClient(installation.Ordering, await Token("buyer", "alice@acme", "acme-servers"));
        using var devTokens = await buyer.PostAsJsonAsync("/dev/tokens", new { subject = "mallory", roles = OpsRole }, cancel);
        devTokens.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    private static async Task<string> ComposeTokenAsync(DeploymentRecipe recipe, string role, string subject, string? tenant, CancellationToken cancel)
    {
        string[] arguments = tenant is null ? ["deploy/docker/token.sh", role, subject] : ["deploy/docker/token.sh", role, subject, tenant];
        var token = await DeploymentRecipe.RunAsync(
            "bash", arguments, new Dictionary<string, string> { ["BROKERING_SECRETS"] = Path.Combine(recipe.SecretsDirectory!, "secrets") }, cancel);
        return token.Trim();
    }
}
