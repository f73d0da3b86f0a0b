using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Brokering.Testing.Installation;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Brokering.EndToEnd.Tests.Deployment;

/// <summary>
/// What an operator provisions for an overlay that leaves it out of the render: the services' Secrets (by name), the
/// per-service database SQL with each role's password, and the broker's users and permissions.
/// </summary>
public sealed record OutOfBandProvisioning(
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Secrets,
    string ServiceDatabaseSql,
    IReadOnlyDictionary<string, string> DatabasePasswords,
    JsonObject BrokerDefinitions);

/// <summary>One service's container as a deployment recipe defines it.</summary>
/// <param name="Environment">
/// The container's environment: its image's <c>ENV</c> (deploy/docker/Dockerfile.{service}) overlaid with what the
/// recipe sets, in the recipe's order of precedence.
/// </param>
/// <param name="Files">Files the recipe mounts into the container: path in the container to the file on this machine.</param>
/// <param name="MemoryLimit">The container's memory limit in bytes (Kubernetes <c>resources.limits.memory</c>, compose
/// <c>deploy.resources.limits.memory</c> or <c>mem_limit</c>); null: none.</param>
public sealed record ServiceContainer(IReadOnlyDictionary<string, string> Environment, IReadOnlyDictionary<string, string> Files, long? MemoryLimit = null)
{
    /// <summary>A Kubernetes memory quantity in bytes: <c>256Mi</c>, <c>1Gi</c>, <c>500M</c>, <c>268435456</c>.</summary>
    public static long ParseQuantity(string quantity) =>
        ParseWithUnit(quantity, StringComparison.Ordinal,
            [("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30), ("Ti", 1L << 40), ("k", 1000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000)]);

    /// <summary>
    /// A compose byte value in bytes, as Docker reads it: a number with an optional unit b, k, m or g (kb, mb, gb too,
    /// any case), all powers of 1024: <c>256M</c>, <c>256m</c>, <c>1g</c>, <c>268435456</c>.
    /// </summary>
    public static long ParseComposeBytes(string value) =>
        ParseWithUnit(value, StringComparison.OrdinalIgnoreCase,
            [("kb", 1L << 10), ("mb", 1L << 20), ("gb", 1L << 30), ("k", 1L << 10), ("m", 1L << 20), ("g", 1L << 30), ("b", 1)]);

    // A whole number followed by the first of the units (longest first where one ends another) it ends with, or by none.
    private static long ParseWithUnit(string text, StringComparison comparison, (string Suffix, long Factor)[] units)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        text = text.Trim();
        var (suffix, factor) = units.FirstOrDefault(unit => text.EndsWith(unit.Suffix, comparison), (string.Empty, 1));
        return long.Parse(text[..^suffix.Length], System.Globalization.CultureInfo.InvariantCulture) * factor;
    }
}

/// <summary>
/// What a deployment recipe (docker-compose.yml, a kustomize overlay) gives the three services and sets up for them,
/// read from the recipe's own rendering (<c>docker-compose config</c>, <c>kubectl kustomize</c>), never restated.
/// </summary>
/// <param name="Name">The recipe, for messages.</param>
/// <param name="Services">Keyed by service name (<c>ordering</c>, <c>inventory</c>, <c>compliance</c>).</param>
/// <param name="ServiceDatabaseSql">The SQL the recipe's PostgreSQL init runs once per service (psql variables role, database, password).</param>
/// <param name="DatabasePasswords">The password the recipe's PostgreSQL init gives each service's role (postgres-init.sh: role = service).</param>
/// <param name="BrokerDefinitions">The RabbitMQ definitions the recipe's broker imports at boot: users, virtual hosts, permissions.</param>
/// <param name="SecretsDirectory">A directory the recipe's provisioning wrote into, deleted with the recipe (null: none).</param>
public sealed record DeploymentRecipe(
    string Name,
    IReadOnlyDictionary<string, ServiceContainer> Services,
    string ServiceDatabaseSql,
    IReadOnlyDictionary<string, string> DatabasePasswords,
    JsonObject BrokerDefinitions,
    string? SecretsDirectory) : IDisposable
{
    /// <summary>The platform's services in the order they start: ordering calls the other two.</summary>
    public static readonly IReadOnlyList<string> StartOrder = ["compliance", "inventory", "ordering"];

    private static string Root => ServiceProcess.RepositoryRoot();

    /// <summary>
    /// docker-compose.yml (and any override files) with a fresh set of secrets made by deploy/docker/provision.sh,
    /// as <c>docker compose --env-file …/brokering.env</c> resolves it.
    /// </summary>
    public static async Task<DeploymentRecipe> FromComposeAsync(IReadOnlyList<string> composeFiles, CancellationToken cancellationToken)
    {
        var temporary = Directory.CreateTempSubdirectory("brokering-compose-");
        try
        {
            var secrets = Path.Combine(temporary.FullName, "secrets");
            await RunAsync("bash", ["deploy/docker/provision.sh", secrets], null, cancellationToken);
            var envFile = Path.Combine(secrets, "brokering.env");
            var rendered = await RunAsync(
                "docker-compose", ["--env-file", envFile, .. composeFiles.SelectMany(file => new[] { "-f", file }), "config"], null, cancellationToken);
            var config = Yaml.Documents(rendered).Single().AsObject();
            var services = config["services"]!.AsObject();
            var secretFiles = config["secrets"]?.AsObject() ?? [];

            var containers = new Dictionary<string, ServiceContainer>(StringComparer.Ordinal);
            foreach (var name in StartOrder)
            {
                var service = services[name]!.AsObject();
                var environment = ImageEnvironment(Path.Combine(Root, service["build"]!["dockerfile"]!.GetValue<string>()));
                foreach (var (key, value) in ComposeEnvironment(service))
                {
                    environment[key] = value;
                }

                // Compose mounts a secret at /run/secrets/{target, by default its name}.
                var files = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var secret in service["secrets"]?.AsArray() ?? [])
                {
                    var source = secret is JsonObject reference ? reference["source"]!.GetValue<string>() : secret!.GetValue<string>();
                    var target = (secret as JsonObject)?["target"]?.GetValue<string>() ?? source;
                    files[target.StartsWith('/') ? target : $"/run/secrets/{target}"] = secretFiles[source]!["file"]!.GetValue<string>();
                }

                var memory = service["deploy"]?["resources"]?["limits"]?["memory"] ?? service["mem_limit"];
                containers[name] = new ServiceContainer(environment, files, memory is null ? null : ServiceContainer.ParseComposeBytes(memory.ToString()));
            }

            var postgres = services["postgres"]!.AsObject();
            var postgresEnvironment = ComposeEnvironment(postgres);
            return new DeploymentRecipe(
                $"docker-compose ({string.Join(" + ", composeFiles)})",
                containers,
                await File.ReadAllTextAsync(MountedFile(postgres, "/etc/brokering/service-database.sql"), cancellationToken),
                DatabasePasswordsFrom(postgresEnvironment),
                JsonNode.Parse(await File.ReadAllTextAsync(MountedFile(services["rabbitmq"]!.AsObject(), "/etc/rabbitmq/definitions.json"), cancellationToken))!.AsObject(),
                temporary.FullName);
        }
        catch
        {
            temporary.Delete(recursive: true);
            throw;
        }
    }

    /// <summary>
    /// A kustomize overlay of deploy/k8s as <c>kubectl kustomize</c> renders it. An overlay that leaves the services'
    /// Secrets, database and broker to the operator (production) takes them from <paramref name="outOfBand"/>.
    /// </summary>
    public static async Task<DeploymentRecipe> FromKustomizeAsync(string overlay, CancellationToken cancellationToken, OutOfBandProvisioning? outOfBand = null)
    {
        var rendered = await RunAsync(Kubectl(), ["kustomize", Path.Combine("deploy", "k8s", "overlays", overlay)], null, cancellationToken);
        var objects = Yaml.Documents(rendered).Select(document => document.AsObject()).ToList();
        JsonObject Find(string kind, string name) =>
            objects.SingleOrDefault(o => o["kind"]!.GetValue<string>() == kind && o["metadata"]!["name"]!.GetValue<string>() == name)
            ?? (kind == "Secret" && outOfBand?.Secrets.TryGetValue(name, out var secret) == true
                ? new JsonObject { ["kind"] = "Secret", ["stringData"] = new JsonObject(secret.Select(pair => KeyValuePair.Create(pair.Key, (JsonNode?)pair.Value))) }
                : throw new InvalidOperationException($"overlays/{overlay} renders no {kind} {name}."));

        IReadOnlyDictionary<string, string> Data(JsonObject configMapOrSecret)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in configMapOrSecret["data"]?.AsObject() ?? [])
            {
                var text = value!.GetValue<string>();
                values[key] = configMapOrSecret["kind"]!.GetValue<string>() == "Secret" ? Encoding.UTF8.GetString(Convert.FromBase64String(text)) : text;
            }

            foreach (var (key, value) in configMapOrSecret["stringData"]?.AsObject() ?? [])
            {
                values[key] = value!.GetValue<string>();
            }

            return values;
        }

        // A pod's environment: envFrom in order, then env, each later one overriding (the kubelet's order).
        Dictionary<string, string> ContainerEnvironment(JsonObject container, Dictionary<string, string> environment)
        {
            foreach (var source in container["envFrom"]?.AsArray() ?? [])
            {
                var (kind, reference) = source!["configMapRef"] is { } configMap ? ("ConfigMap", configMap) : ("Secret", source["secretRef"]!);
                foreach (var (key, value) in Data(Find(kind, reference["name"]!.GetValue<string>())))
                {
                    environment[(source["prefix"]?.GetValue<string>() ?? string.Empty) + key] = value;
                }
            }

            foreach (var variable in container["env"]?.AsArray() ?? [])
            {
                var name = variable!["name"]!.GetValue<string>();
                environment[name] = variable["value"]?.GetValue<string>() ?? variable["valueFrom"] switch
                {
                    { } from when from["secretKeyRef"] is { } key => Data(Find("Secret", key["name"]!.GetValue<string>()))[key["key"]!.GetValue<string>()],
                    { } from when from["configMapKeyRef"] is { } key => Data(Find("ConfigMap", key["name"]!.GetValue<string>()))[key["key"]!.GetValue<string>()],
                    _ => throw new NotSupportedException($"overlays/{overlay}: env {name} comes from somewhere this test does not read."),
                };
            }

            return environment;
        }

        var containers = new Dictionary<string, ServiceContainer>(StringComparer.Ordinal);
        foreach (var name in StartOrder)
        {
            var pod = Find("Deployment", name)["spec"]!["template"]!["spec"]!;
            var container = pod["containers"]!.AsArray().Single(c => c!["name"]!.GetValue<string>() == name)!.AsObject();
            var environment = ContainerEnvironment(container, ImageEnvironment(Path.Combine(Root, "deploy", "docker", $"Dockerfile.{name}")));
            var memory = container["resources"]?["limits"]?["memory"]?.GetValue<string>();
            containers[name] = new ServiceContainer(environment, new Dictionary<string, string>(), memory is null ? null : ServiceContainer.ParseQuantity(memory));
        }

        if (outOfBand is not null)
        {
            return new DeploymentRecipe(
                $"kustomize overlays/{overlay}", containers, outOfBand.ServiceDatabaseSql, outOfBand.DatabasePasswords, outOfBand.BrokerDefinitions, null);
        }

        var postgres = Find("StatefulSet", "postgres")["spec"]!["template"]!["spec"]!["containers"]!.AsArray()
            .Single(c => c!["name"]!.GetValue<string>() == "postgres")!.AsObject();
        var postgresEnvironment = ContainerEnvironment(postgres, []);
        return new DeploymentRecipe(
            $"kustomize overlays/{overlay}",
            containers,
            Data(Find("ConfigMap", ConfigMapName(objects, "postgres-init")))["service-database.sql"],
            DatabasePasswordsFrom(postgresEnvironment),
            JsonNode.Parse(Data(Find("ConfigMap", ConfigMapName(objects, "rabbitmq-config")))["definitions.json"])!.AsObject(),
            null);
    }

    /// <summary>
    /// What deploy/k8s/README.md ("Production") has an operator create before the first apply, made here as it says:
    /// the Secrets with exactly the keys of base/'s placeholder Secrets (the contract), each placeholder replaced by a
    /// fresh password or, for <c>Authentication__ServiceKey</c>, a key from the README's openssl command; each service's
    /// role and database by deploy/docker/service-database.sql; a broker user per service with the least-privilege
    /// patterns on "/" and no tags, and inventory's feeds account with its own names on brokering-feeds. A
    /// placeholder the README does not say how to fill fails here.
    /// </summary>
    /// <summary>
    /// The permissions the README has the operator set for <paramref name="user"/>: "the same patterns" as the dev
    /// overlay's broker definitions (which the recipe tests run), so both are taken from there.
    /// </summary>
    private static async Task<JsonObject> ReadmePermissionAsync(string user, string vhost, CancellationToken cancellationToken)
    {
        var definitions = JsonNode.Parse(await File.ReadAllTextAsync(
            Path.Combine(Root, "deploy", "k8s", "overlays", "dev", "config", "definitions.json"), cancellationToken))!;
        var permission = definitions["permissions"]!.AsArray().Select(p => p!.AsObject())
            .SingleOrDefault(p => p["user"]!.GetValue<string>() == user && p["vhost"]!.GetValue<string>() == vhost)
            ?? throw new InvalidOperationException($"The dev overlay's definitions give {user} no permissions on {vhost}.");
        return (JsonObject)permission.DeepClone();
    }

    public static async Task<OutOfBandProvisioning> ProductionProvisioningAsync(CancellationToken cancellationToken)
    {
        var rendered = await RunAsync(Kubectl(), ["kustomize", Path.Combine("deploy", "k8s", "base")], null, cancellationToken);
        var secrets = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        var databasePasswords = new Dictionary<string, string>(StringComparer.Ordinal);
        var users = new JsonArray();
        var permissions = new JsonArray();
        foreach (var placeholder in Yaml.Documents(rendered).Select(document => document.AsObject()).Where(o => o["kind"]!.GetValue<string>() == "Secret"))
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in placeholder["data"]?.AsObject() ?? [])
            {
                var text = Encoding.UTF8.GetString(Convert.FromBase64String(value!.GetValue<string>()));
                var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
                switch (key)
                {
                    case "ConnectionStrings__Database":
                        var database = new Npgsql.NpgsqlConnectionStringBuilder(text) { Password = password };
                        databasePasswords[database.Username!] = password;
                        values[key] = database.ConnectionString;
                        break;
                    case "ConnectionStrings__RabbitMq":
                        var user = Uri.UnescapeDataString(new Uri(text).UserInfo.Split(':')[0]);
                        values[key] = text.Replace("CHANGE-ME", password, StringComparison.Ordinal);
                        users.Add(new JsonObject { ["name"] = user, ["password_hash"] = RabbitPasswordHash(password), ["tags"] = new JsonArray() });
                        permissions.Add(await ReadmePermissionAsync(user, "/", cancellationToken));
                        break;
                    case "ConnectionStrings__RabbitMqFeeds":
                        // The README's step 1: inventory's account on the distributors' virtual host, its own names only.
                        var feedsUri = new Uri(text);
                        var feedsUser = Uri.UnescapeDataString(feedsUri.UserInfo.Split(':')[0]);
                        values[key] = text.Replace("CHANGE-ME", password, StringComparison.Ordinal);
                        users.Add(new JsonObject { ["name"] = feedsUser, ["password_hash"] = RabbitPasswordHash(password), ["tags"] = new JsonArray() });
                        permissions.Add(await ReadmePermissionAsync(feedsUser, Uri.UnescapeDataString(feedsUri.AbsolutePath.TrimStart('/')), cancellationToken));
                        break;
                    case "Authentication__ServiceKey":
                        values[key] = await RunAsync("bash", ["-c", "openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt"], null, cancellationToken);
                        break;
                    default:
                        throw new InvalidOperationException(
                            $"{placeholder["metadata"]!["name"]}: deploy/k8s/README.md does not say how to provision {key}; say so there, then here.");
                }
            }

            secrets[placeholder["metadata"]!["name"]!.GetValue<string>()] = values;
        }

        return new OutOfBandProvisioning(
            secrets,
            await File.ReadAllTextAsync(Path.Combine(Root, "deploy", "docker", "service-database.sql"), cancellationToken),
            databasePasswords,
            new JsonObject { ["users"] = users, ["permissions"] = permissions });
    }

    public void Dispose()
    {
        if (SecretsDirectory is not null && Directory.Exists(SecretsDirectory))
        {
            Directory.Delete(SecretsDirectory, recursive: true);
        }
    }

    /// <summary>Runs a recipe's tool from the repository root and returns its standard output; fails with its error output.</summary>
    public static async Task<string> RunAsync(
        string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', start.ArgumentList)} exited with {process.ExitCode}:\n{await error}");
        }

        return await output;
    }

    // rabbit_password_hashing_sha256: base64(salt . sha256(salt . password)), a 4-byte salt.
    private static string RabbitPasswordHash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(4);
        return Convert.ToBase64String([.. salt, .. SHA256.HashData([.. salt, .. Encoding.UTF8.GetBytes(password)])]);
    }

    // kustomize renders generated ConfigMaps under a hashed name.
    private static string ConfigMapName(IEnumerable<JsonObject> objects, string generatedName) =>
        objects.Where(o => o["kind"]!.GetValue<string>() == "ConfigMap")
            .Select(o => o["metadata"]!["name"]!.GetValue<string>())
            .Single(name => name == generatedName || name.StartsWith(generatedName + "-", StringComparison.Ordinal));

    // postgres-init.sh gives role S the password in S_DB_PASSWORD (upper case) of the postgres container.
    private static Dictionary<string, string> DatabasePasswordsFrom(Dictionary<string, string> postgresEnvironment) =>
        StartOrder.Where(service => postgresEnvironment.ContainsKey($"{service.ToUpperInvariant()}_DB_PASSWORD"))
            .ToDictionary(service => service, service => postgresEnvironment[$"{service.ToUpperInvariant()}_DB_PASSWORD"], StringComparer.Ordinal);

    // The kubectl validate.sh pins (deploy/k8s/validate), else the one on PATH.
    private static string Kubectl()
    {
        var pinned = Path.Combine(Root, "deploy", "k8s", "validate", "node_modules", ".kubectl", "kubectl");
        return File.Exists(pinned) ? pinned : "kubectl";
    }

    private static Dictionary<string, string> ComposeEnvironment(JsonObject composeService)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (composeService["environment"])
        {
            case JsonObject map:
                foreach (var (key, value) in map)
                {
                    environment[key] = value?.GetValue<string>() ?? string.Empty;
                }

                break;
            case JsonArray list:
                foreach (var entry in list)
                {
                    var parts = entry!.GetValue<string>().Split('=', 2);
                    environment[parts[0]] = parts.Length > 1 ? parts[1] : string.Empty;
                }

                break;
        }

        return environment;
    }

    // The host file a compose service bind-mounts at containerPath (short "src:dst[:mode]" or long syntax).
    private static string MountedFile(JsonObject composeService, string containerPath)
    {
        foreach (var volume in composeService["volumes"]?.AsArray() ?? [])
        {
            var (source, target) = volume is JsonObject mount
                ? (mount["source"]?.GetValue<string>(), mount["target"]!.GetValue<string>())
                : (volume!.GetValue<string>().Split(':')[0], volume.GetValue<string>().Split(':')[1]);
            if (target == containerPath && source is not null)
            {
                return source;
            }
        }

        throw new InvalidOperationException($"The compose service mounts nothing at {containerPath}.");
    }

    // The runtime stage's ENV of a service's Dockerfile: part of every container's environment.
    private static Dictionary<string, string> ImageEnvironment(string dockerfile)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        var instructions = File.ReadAllText(dockerfile).Replace("\\\n", " ", StringComparison.Ordinal).Split('\n');
        var runtime = instructions.Select((line, index) => (line, index)).Last(pair => pair.line.StartsWith("FROM ", StringComparison.Ordinal)).index;
        foreach (var instruction in instructions.Skip(runtime).Where(line => line.StartsWith("ENV ", StringComparison.Ordinal)))
        {
            foreach (var assignment in instruction[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = assignment.Split('=', 2);
                environment[parts[0]] = parts[1];
            }
        }

        return environment;
    }

    /// <summary>YAML (one or more documents) as JSON nodes, every scalar a string, as the recipes' tools mean them.</summary>
    private static class Yaml
    {
        public static List<JsonNode> Documents(string text)
        {
            var deserializer = new DeserializerBuilder().Build();
            var parser = new Parser(new StringReader(text));
            parser.Consume<StreamStart>();
            var documents = new List<JsonNode>();
            while (parser.Accept<DocumentStart>(out _))
            {
                if (ToJson(deserializer.Deserialize<object?>(parser)) is { } document)
                {
                    documents.Add(document);
                }
            }

            return documents;
        }

        private static JsonNode? ToJson(object? value) => value switch
        {
            null => null,
            IDictionary<object, object?> map => new JsonObject(map.Select(pair => KeyValuePair.Create(pair.Key.ToString()!, ToJson(pair.Value)))),
            IList<object?> list => new JsonArray([.. list.Select(ToJson)]),
            _ => JsonValue.Create(value.ToString()),
        };
    }
}
