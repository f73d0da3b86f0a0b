using System.Net.Http.Json;
using Brokering.Testing;
using Brokering.Testing.Installation;
using Npgsql;
using Shouldly;

namespace Brokering.EndToEnd.Tests.Deployment;

/// <summary>
/// What every deployment recipe test does once the recipe's installation runs: a reservation driven from a
/// distributor's stock feed to confirmed through the public APIs, with tokens from the recipe's own issuer, and a look
/// at the recipe's database roles.
/// </summary>
public static class RecipeReservation
{
    private const string Sku = "NVIDIA-H20";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    // A distributor's snapshot; a buyer compliance does not know refused; then, once an officer has registered it, a
    // buyer's reservation held (compliance screened it and inventory held it on ordering's service token, over gRPC;
    // inventory said so over RabbitMQ) and confirmed (inventory committed).
    public static async Task DriveAsync(
        RecipeInstallation installation, Func<string, string, string?, Task<string>> token, CancellationToken cancel)
    {
        var distributorToken = await token("distributor", "feed@arrow", "arrow");
        await new ScrambleDriver((_, _, _) => BrokeringSystem.RestClient(installation.Inventory, distributorToken))
            .PublishSnapshotAsync("arrow", 1, Sku, "HKG-1", 10, 12000m, cancel);

        // Production settings refuse a buyer organisation compliance has not registered (know your customer)...
        var strangerToken = await token("buyer", "eve@stranger", "stranger-servers");
        var stranger = new ScrambleDriver((_, _, _) => BrokeringSystem.RestClient(installation.Ordering, strangerToken), () => installation.Logs);
        var refused = await stranger.SubmitAcceptedAsync(
            "stranger-servers",
            ScrambleDriver.Reservation("PO-STRANGER", "Acme Cloud Inc.", "AllOrNone", "Manual", [new Line(Sku, 1, 13000m)], destination: "US", endUserCountry: "US"),
            cancel);
        ReservationView.Status(await stranger.WaitUntilEndedAsync("stranger-servers", refused, Patience, cancel)).ShouldBe("Rejected", installation.Logs);

        // ...so an officer registers the buyer first.
        using (var officer = BrokeringSystem.RestClient(installation.Compliance, await token("compliance-officer", "carol@compliance", null)))
        using (var registered = await officer.PutAsJsonAsync("/v1/buyers/acme-servers", new { legalName = "Acme Servers Inc.", country = "US" }, cancel))
        {
            registered.IsSuccessStatusCode.ShouldBeTrue(await registered.Content.ReadAsStringAsync(cancel));
        }

        var buyerToken = await token("buyer", "alice@acme", "acme-servers");
        var driver = new ScrambleDriver((_, _, _) => BrokeringSystem.RestClient(installation.Ordering, buyerToken), () => installation.Logs);
        var id = await driver.SubmitAcceptedAsync(
            "acme-servers",
            ScrambleDriver.Reservation("PO-RECIPE", "Acme Cloud Inc.", "AllOrNone", "Manual", [new Line(Sku, 4, 13000m)], destination: "US", endUserCountry: "US"),
            cancel);
        var held = await driver.WaitUntilRestingAsync("acme-servers", id, Patience, cancel);
        ReservationView.Status(held).ShouldBe("Held", $"{held}\n{installation.Logs}");

        await driver.ConfirmAcceptedAsync("acme-servers", id, cancel);
        var ended = await driver.WaitUntilEndedAsync("acme-servers", id, Patience, cancel);
        ReservationView.Status(ended).ShouldBe("Confirmed", $"{ended}\n{installation.Logs}");
        ReservationView.Allocated(ended).ShouldBe(4);
    }

    // A first start on fresh databases is healthy and says so: no service logged an error while it migrated and came up
    // (EF logged Npgsql's read of the not yet created migration history as a failed command, twice per context).
    public static void NoServiceLoggedAnErrorWhileStarting(RecipeInstallation installation)
    {
        foreach (var service in new[] { installation.Ordering, installation.Inventory, installation.Compliance })
        {
            service.ErrorLines.ShouldBeEmpty($"{service.Name}:\n{string.Join('\n', service.ErrorLines)}");
        }
    }

    // A body the framework cannot bind is answered by the field at fault in the recipe's own environment too (Production
    // answered a bare 400 until the services threw binding errors to their handler in every environment).
    public static async Task MalformedBodiesAreRefusedFieldByFieldAsync(
        RecipeInstallation installation, Func<string, string, string?, Task<string>> token, CancellationToken cancel)
    {
        (ServiceProcess Service, string Token, HttpMethod Method, string Path, string Body, string Field)[] refusals =
        [
            (installation.Ordering, await token("buyer", "alice@acme", "acme-servers"), HttpMethod.Post, "/v1/reservations",
                """{"buyerReference":"PO-BAD","lines":[{"sku":"NVIDIA-H20","quantity":"four"}]}""", "lines[0].quantity"),
            (installation.Inventory, await token("distributor", "feed@arrow", "arrow"), HttpMethod.Post, "/v1/distributors/arrow/stock-feed",
                """{"distributorId":"arrow","sequence":2,"kind":"Delta","items":[{"sku":"NVIDIA-H20","quantityOnHand":1.5}]}""", "items[0].quantityOnHand"),
            (installation.Compliance, await token("compliance-officer", "carol@compliance", null), HttpMethod.Put, "/v1/buyers/acme-servers",
                """{"legalName":"Acme Servers Inc.","country":"US","country":"CN"}""", "country"),
        ];
        foreach (var (service, bearer, method, path, body, field) in refusals)
        {
            using var client = BrokeringSystem.RestClient(service, bearer);
            using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            using var response = await client.SendAsync(request, cancel);
            var problem = await response.Content.ReadAsStringAsync(cancel);
            ((int)response.StatusCode).ShouldBe(400, $"{path}: {problem}");
            response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json", path);
            using var document = System.Text.Json.JsonDocument.Parse(problem);
            document.RootElement.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue($"{path}: {problem}");
        }
    }

    // Bus isolation (docs/security.md): the recipe gives inventory the distributors' virtual host, and inventory reads the AMQP stock feed there
    // with the recipe's feeds account, not on the internal bus.
    public static async Task InventoryReadsTheStockFeedOnTheFeedsVirtualHostOnlyAsync(RecipeInstallation installation, CancellationToken cancel)
    {
        installation.VirtualHosts.Keys.ShouldBe(["/", "brokering-feeds"], ignoreOrder: true);
        (await TestInfrastructure.QueueExistsAsync(installation.VirtualHosts["brokering-feeds"], "stock-feed", cancel)).ShouldBeTrue();
        (await TestInfrastructure.QueueExistsAsync(installation.VirtualHosts["/"], "stock-feed", cancel)).ShouldBeFalse();
    }

    // Bus isolation (docs/security.md, "Bounds on the feeds virtual host"): the recipe bounds the feeds virtual host as the local recipe does, so no distributor's account can
    // exhaust the broker that carries the internal bus: the stock-feed queue inventory declared is under its policy, and
    // the distributors' shared account has connection and channel limits.
    public static async Task TheFeedsVirtualHostIsBoundedAsync(DeploymentRecipe recipe, RecipeInstallation installation, CancellationToken cancel)
    {
        var (policy, definition) = await Eventually.Latest(
            () => TestInfrastructure.QueuePolicyAsync(installation.VirtualHosts["brokering-feeds"], "stock-feed", cancel),
            found => found.Policy is not null, TimeSpan.FromSeconds(10), cancellationToken: cancel);
        policy.ShouldBe("stock-feed-bounds");
        definition.ShouldNotBeNull()["overflow"]!.GetValue<string>().ShouldBe("reject-publish");
        definition["max-length"]!.GetValue<long>().ShouldBeGreaterThan(0);
        var distributor = recipe.BrokerDefinitions["users"]!.AsArray().Single(u => u!["name"]!.GetValue<string>() == "distributor-feed")!;
        distributor["limits"]!["max-connections"]!.GetValue<long>().ShouldBeGreaterThan(0);
        distributor["limits"]!["max-channels"]!.GetValue<long>().ShouldBeGreaterThan(0);
        // Not the default exchange, which routes to any queue by name, each distributor's own included (docs/security.md, "The AMQP stock feed").
        var permission = recipe.BrokerDefinitions["permissions"]!.AsArray().Single(p => p!["user"]!.GetValue<string>() == "distributor-feed")!;
        (permission["configure"]!.GetValue<string>(), permission["write"]!.GetValue<string>(), permission["read"]!.GetValue<string>())
            .ShouldBe((string.Empty, "^stock-feed$", string.Empty));
    }

    // Each service ran the reservation under its container's memory limit (a manifest's resources.limits.memory or
    // compose's deploy.resources.limits.memory, enforced by a memory cgroup as the kubelet's or Docker's is) without
    // being killed for it.
    public static void EachServiceRanWithinItsContainersMemoryLimit(DeploymentRecipe recipe, RecipeInstallation installation)
    {
        foreach (var service in new[] { installation.Ordering, installation.Inventory, installation.Compliance })
        {
            var limit = recipe.Services[service.Name.ToLowerInvariant()].MemoryLimit.ShouldNotBeNull($"{recipe.Name}: {service.Name}'s container has no memory limit");
            var memory = service.Memory.ShouldNotBeNull();
            memory.Limit.ShouldBe(limit);
            memory.OomKills.ShouldBe(0, $"{service.Name} went over its {limit / (1024 * 1024)} MiB limit");
            service.IsRunning.ShouldBeTrue($"{service.Name} exited{service.OomNote}");
            service.Starts.ShouldBe(1);
            memory.PeakBytes.ShouldBeInRange(1, limit, $"{service.Name}'s peak");
        }
    }

    // Least privilege: a service's role may not even connect to another service's database.
    public static async Task EachRoleReachesOnlyItsOwnDatabaseAsync(RecipeInstallation installation, CancellationToken cancel)
    {
        var ordering = new NpgsqlConnectionStringBuilder(installation.DatabaseConnections["ordering"]);
        var inventory = new NpgsqlConnectionStringBuilder(installation.DatabaseConnections["inventory"]);
        await using var trespasser = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ordering.ConnectionString) { Database = inventory.Database, Pooling = false }.ConnectionString);
        var refused = await Should.ThrowAsync<PostgresException>(() => trespasser.OpenAsync(cancel));
        refused.SqlState.ShouldBe(PostgresErrorCodes.InsufficientPrivilege);
    }
}
