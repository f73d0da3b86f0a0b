using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Brokering.Testing;
using Brokering.Testing.Installation;
using Npgsql;
using Shouldly;

namespace Brokering.EndToEnd.Tests.Deployment;

/// <summary>
/// The three services run as processes from their build output with exactly the environment a
/// <see cref="DeploymentRecipe"/> gives their containers. Only what a container network resolves differently here is
/// rewritten: host names and ports (the recipe's <c>postgres</c>, <c>rabbitmq</c>, <c>ordering:5100</c>, <c>0.0.0.0:5300</c>)
/// to the local servers and free loopback ports, paths of mounted files to the files on this machine, and, so tests
/// may run side by side on shared servers, the names of the roles, databases, broker users and virtual host get a
/// per-test suffix (each of the recipe's virtual hosts, the internal one and the distributors' feeds one, is a fresh one
/// here). Those are made by running the recipe's own SQL and permissions on the local servers; passwords,
/// keys and every other setting are the recipe's. Each process gets its own empty HOME, as a container has.
/// </summary>
public sealed partial class RecipeInstallation : IAsyncDisposable
{
    private readonly DeploymentRecipe recipe;
    private readonly IReadOnlyDictionary<string, Uri> externalHosts;
    private readonly IReadOnlyDictionary<string, string> machineEnvironment;
    private readonly string suffix = Guid.NewGuid().ToString("N")[..10];
    private readonly DirectoryInfo homes = Directory.CreateTempSubdirectory("brokering-recipe-home-");
    private readonly List<string> roles = [];
    private readonly List<string> databases = [];
    private readonly List<string> brokerUsers = [];
    private readonly Dictionary<string, ServiceProcess> processes = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Host, int Port), int> localPorts = [];
    // The recipe's virtual hosts ("/", the distributors' brokering-feeds) by name, each a fresh one here.
    private readonly Dictionary<string, Uri> virtualHosts = new(StringComparer.Ordinal);

    private RecipeInstallation(DeploymentRecipe recipe, IReadOnlyDictionary<string, Uri> externalHosts, IReadOnlyDictionary<string, string> machineEnvironment)
    {
        this.recipe = recipe;
        this.externalHosts = externalHosts;
        this.machineEnvironment = machineEnvironment;
    }

    public ServiceProcess Ordering => processes["ordering"];
    public ServiceProcess Inventory => processes["inventory"];
    public ServiceProcess Compliance => processes["compliance"];

    /// <summary>Connection strings (as the services use them, rewritten) of each service's database, by service.</summary>
    public IReadOnlyDictionary<string, string> DatabaseConnections => connections;

    private readonly Dictionary<string, string> connections = new(StringComparer.Ordinal);

    /// <summary>The local virtual host standing for each of the recipe's, by the recipe's name for it.</summary>
    public IReadOnlyDictionary<string, Uri> VirtualHosts => virtualHosts;

    /// <summary>The recent output of every process.</summary>
    public string Logs => string.Join("\n", processes.Select(p => $"--- {p.Key} ---\n{p.Value.RecentOutput}"));

    /// <summary>Sets up the recipe's accounts on the local servers, starts the three services and waits until each is ready.</summary>
    /// <param name="recipe">What the deployment gives the containers.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <param name="externalHosts">
    /// Services outside the recipe it names by host name (the identity provider), and where they run here: an address
    /// <c>https://idp.example.com/…</c> becomes <c>https://127.0.0.1:port/…</c>.
    /// </param>
    /// <param name="machineEnvironment">
    /// What a container has from its image rather than the recipe, set besides the recipe's environment (the
    /// certificate bundle trusting a local identity provider's certificate, as a cluster's CA bundle trusts the real one's).
    /// </param>
    public static async Task<RecipeInstallation> StartAsync(
        DeploymentRecipe recipe, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, Uri>? externalHosts = null, IReadOnlyDictionary<string, string>? machineEnvironment = null)
    {
        var installation = new RecipeInstallation(
            recipe, externalHosts ?? new Dictionary<string, Uri>(), machineEnvironment ?? new Dictionary<string, string>());
        try
        {
            await installation.StartAsync(cancellationToken);
            return installation;
        }
        catch
        {
            await installation.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in processes.Values)
        {
            await process.DisposeAsync();
        }

        var settings = await TestInfrastructure.GetSettingsAsync();
        NpgsqlConnection.ClearAllPools();
        await using (var admin = new NpgsqlConnection(settings.PostgresConnectionString))
        {
            await admin.OpenAsync();
            foreach (var sql in databases.Select(database => $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)")
                .Concat(roles.Select(role => $"DROP ROLE IF EXISTS \"{role}\"")))
            {
                await using var command = new NpgsqlCommand(sql, admin);
                await command.ExecuteNonQueryAsync();
            }
        }

        foreach (var user in brokerUsers)
        {
            await TestInfrastructure.DeleteUserAsync(user);
        }

        foreach (var virtualHost in virtualHosts.Values)
        {
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
        }

        homes.Delete(recursive: true);
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = await TestInfrastructure.GetSettingsAsync();

        // Every address a service listens on, by the recipe's host name and port, gets a free loopback port.
        var listening = new Dictionary<string, (Uri Http, Uri Grpc)>(StringComparer.Ordinal);
        foreach (var (name, container) in recipe.Services)
        {
            Uri Listen(string setting)
            {
                var url = new Uri(container.Environment[setting]);
                var port = FreePort.Next();
                localPorts[(name, url.Port)] = port;
                return new Uri($"http://127.0.0.1:{port}");
            }

            listening[name] = (Listen("Kestrel__Endpoints__Http__Url"), Listen("Kestrel__Endpoints__Grpc__Url"));
        }

        // All three at once, as a Kubernetes rollout starts them (compose waits for compliance and inventory before
        // ordering, which changes nothing here: ordering calls them only once a reservation comes in).
        foreach (var name in DeploymentRecipe.StartOrder)
        {
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in recipe.Services[name].Environment)
            {
                environment[key] = await RewriteAsync(name, key, value, settings, cancellationToken);
            }

            // What a container has besides its environment: a home of its own, and the dotnet host on its PATH.
            environment["HOME"] = homes.CreateSubdirectory(name).FullName;
            environment["PATH"] = System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
            foreach (var (key, value) in machineEnvironment)
            {
                environment[key] = value;
            }

            var (rest, grpc) = listening[name];
            // Under the container's memory limit, when the recipe sets one: the kernel kills it for going over, as it would the pod.
            var process = ServiceProcess.StartWithExactly(char.ToUpperInvariant(name[0]) + name[1..], rest, grpc, environment, recipe.Services[name].MemoryLimit);
            processes[name] = process;
        }

        await Task.WhenAll(processes.Values.Select(process => process.WaitUntilReadyAsync(TimeSpan.FromMinutes(2))));
    }

    private async Task<string> RewriteAsync(string service, string key, string value, InfrastructureSettings settings, CancellationToken cancellationToken)
    {
        if (key == "ConnectionStrings__Database")
        {
            return await DatabaseAsync(service, value, settings, cancellationToken);
        }

        // The internal bus (ConnectionStrings__RabbitMq) and inventory's feeds connection (ConnectionStrings__RabbitMqFeeds).
        if (key.StartsWith("ConnectionStrings__RabbitMq", StringComparison.Ordinal))
        {
            return (await BrokerUserAsync(value, settings, cancellationToken)).ToString();
        }

        if (recipe.Services[service].Files.TryGetValue(value, out var file))
        {
            return file;
        }

        // http://0.0.0.0:5300 (where this service listens), http://compliance:5301 (another service) and
        // https://idp.example.com (a service outside the recipe).
        return ServiceAddress().Replace(value, match =>
        {
            var scheme = match.Groups["scheme"].Value;
            if (!match.Groups["port"].Success)
            {
                return externalHosts.TryGetValue(match.Groups["host"].Value, out var external) ? $"{scheme}://{external.Authority}" : match.Value;
            }

            var host = match.Groups["host"].Value is "0.0.0.0" or "[::]" or "+" or "*" ? service : match.Groups["host"].Value;
            return localPorts.TryGetValue((host, int.Parse(match.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture)), out var port)
                ? $"{scheme}://127.0.0.1:{port}"
                : match.Value;
        });
    }

    // The service's own role and database, made by the recipe's SQL with the password the recipe's init gives the role.
    private async Task<string> DatabaseAsync(string service, string connectionString, InfrastructureSettings settings, CancellationToken cancellationToken)
    {
        var recipeConnection = new NpgsqlConnectionStringBuilder(connectionString);
        var role = recipeConnection.Username.ShouldNotBeNull();
        recipe.DatabasePasswords.TryGetValue(role, out var initPassword)
            .ShouldBeTrue($"{recipe.Name}: {service} connects as role {role}, which the recipe's PostgreSQL init does not create.");
        recipeConnection.Password.ShouldBe(initPassword, $"{recipe.Name}: {service}'s password for role {role} is not the one the init gives it.");

        var local = new NpgsqlConnectionStringBuilder(settings.PostgresConnectionString);
        var (localRole, localDatabase) = ($"{role}_{suffix}", $"{recipeConnection.Database}_{suffix}");
        var sql = Path.Combine(homes.FullName, $"{service}-database.sql");
        await File.WriteAllTextAsync(sql, recipe.ServiceDatabaseSql, cancellationToken);
        roles.Add(localRole);
        databases.Add(localDatabase);
        await DeploymentRecipe.RunAsync(
            "psql",
            ["-v", "ON_ERROR_STOP=1", "--no-psqlrc", "--quiet", "--dbname", "postgres",
             "-v", $"role={localRole}", "-v", $"database={localDatabase}", "-v", $"password={initPassword}", "-f", sql],
            new Dictionary<string, string>
            {
                ["PGHOST"] = local.Host!,
                ["PGPORT"] = local.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["PGUSER"] = local.Username!,
                ["PGPASSWORD"] = local.Password ?? string.Empty,
            },
            cancellationToken);

        recipeConnection.Host = local.Host;
        recipeConnection.Port = local.Port;
        recipeConnection.Username = localRole;
        recipeConnection.Database = localDatabase;
        connections[service] = recipeConnection.ConnectionString;
        return recipeConnection.ConnectionString;
    }

    // The service's broker user, with the tags and the permissions the recipe's definitions give it on its virtual host.
    private async Task<Uri> BrokerUserAsync(string amqp, InfrastructureSettings settings, CancellationToken cancellationToken)
    {
        var uri = new Uri(amqp);
        var credentials = uri.UserInfo.Split(':', 2);
        var (user, password) = (Uri.UnescapeDataString(credentials[0]), Uri.UnescapeDataString(credentials[1]));
        var vhost = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } path ? path : "/";

        var definition = recipe.BrokerDefinitions["users"]!.AsArray().SingleOrDefault(u => u!["name"]!.GetValue<string>() == user)
            ?? throw new ShouldAssertException($"{recipe.Name}: the broker's definitions have no user {user}.");
        PasswordHashMatches(definition["password_hash"]!.GetValue<string>(), password)
            .ShouldBeTrue($"{recipe.Name}: the password in {user}'s connection string is not the one the broker's definitions hold.");
        var permission = recipe.BrokerDefinitions["permissions"]!.AsArray()
            .SingleOrDefault(p => p!["user"]!.GetValue<string>() == user && p["vhost"]!.GetValue<string>() == vhost)
            ?? throw new ShouldAssertException($"{recipe.Name}: the broker's definitions give {user} no permissions on virtual host {vhost}.");

        if (!virtualHosts.TryGetValue(vhost, out var virtualHost))
        {
            if (vhost != "/" && recipe.BrokerDefinitions["vhosts"] is JsonArray declared)
            {
                declared.ShouldContain(v => v!["name"]!.GetValue<string>() == vhost, $"{recipe.Name}: the broker's definitions have no virtual host {vhost}.");
            }

            virtualHost = await TestInfrastructure.CreateVirtualHostAsync("recipe", cancellationToken);
            virtualHosts[vhost] = virtualHost;
            // The virtual host's policies as the broker would import them (the feeds vhost's bounds), so a policy the
            // broker does not take fails here, and the services run under it.
            foreach (var policy in (recipe.BrokerDefinitions["policies"] as JsonArray ?? []).Select(p => p!.AsObject())
                         .Where(p => p["vhost"]!.GetValue<string>() == vhost))
            {
                var body = new JsonObject
                {
                    ["pattern"] = policy["pattern"]!.DeepClone(),
                    ["apply-to"] = policy["apply-to"]!.DeepClone(),
                    ["priority"] = policy["priority"]!.DeepClone(),
                    ["definition"] = policy["definition"]!.DeepClone(),
                };
                await TestInfrastructure.SetPolicyAsync(virtualHost, policy["name"]!.GetValue<string>(), body, cancellationToken);
            }
        }

        var localUser = $"{user}-{suffix}";
        brokerUsers.Add(localUser);
        var tags = string.Join(',', definition["tags"] switch
        {
            JsonArray list => list.Select(tag => tag!.GetValue<string>()),
            JsonValue text => text.GetValue<string>().Split(',', StringSplitOptions.RemoveEmptyEntries),
            _ => [],
        });
        await TestInfrastructure.CreateUserAsync(localUser, password, tags, cancellationToken);
        foreach (var (limit, value) in definition["limits"] as JsonObject ?? [])
        {
            await TestInfrastructure.SetUserLimitAsync(localUser, limit, value!.GetValue<long>(), cancellationToken);
        }

        await TestInfrastructure.SetPermissionsAsync(
            virtualHost, localUser,
            permission["configure"]!.GetValue<string>(), permission["write"]!.GetValue<string>(), permission["read"]!.GetValue<string>(),
            cancellationToken);

        return new UriBuilder(virtualHost)
        {
            UserName = Uri.EscapeDataString(localUser),
            Password = Uri.EscapeDataString(password),
        }.Uri;
    }

    // rabbit_password_hashing_sha256: base64(salt . sha256(salt . password)), a 4-byte salt.
    private static bool PasswordHashMatches(string passwordHash, string password)
    {
        var hash = Convert.FromBase64String(passwordHash);
        var salt = hash[..4];
        return SHA256.HashData([.. salt, .. Encoding.UTF8.GetBytes(password)]).AsSpan().SequenceEqual(hash.AsSpan(4));
    }

    [GeneratedRegex(@"(?<scheme>https?)://(?<host>[A-Za-z0-9.\-]+|\[::\]|\+|\*)(:(?<port>\d+))?")]
    private static partial Regex ServiceAddress();
}
