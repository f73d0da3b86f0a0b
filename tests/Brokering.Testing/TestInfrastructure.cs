using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using DotNet.Testcontainers.Builders;
using Npgsql;
using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;

namespace Brokering.Testing;

/// <summary>
/// The one place that decides, once per process, which PostgreSQL and RabbitMQ the tests use, and
/// hands out isolated databases and virtual hosts on them.
/// <list type="number">
/// <item>Environment variables <c>BROKERING_POSTGRES</c> and <c>BROKERING_RABBITMQ</c> (optionally
/// <c>BROKERING_RABBITMQ_MANAGEMENT</c>), as written by <c>deploy/local/infra-up.sh</c> to <c>.local/env.sh</c>.</item>
/// <item>Otherwise Testcontainers (a machine with Docker).</item>
/// <item>Without Docker, the local defaults on 127.0.0.1 (ports 5432, 5672 and 15672).</item>
/// </list>
/// </summary>
public static class TestInfrastructure
{
    public const string DefaultPostgres = "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres";
    public const string DefaultRabbitMq = "amqp://guest:guest@127.0.0.1:5672/";
    public const string DefaultRabbitMqManagement = "http://guest:guest@127.0.0.1:15672/";

    private const string StartHint = "Start the local servers with `bash deploy/local/infra-up.sh` "
        + "(then `source .local/env.sh`), or run the tests on a machine with Docker.";

    private static readonly Lazy<Task<Chosen>> Infrastructure =
        new(DecideAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The settings chosen for this process (decided on first use).</summary>
    public static async Task<InfrastructureSettings> GetSettingsAsync() => (await Infrastructure.Value).Settings;

    /// <summary>Creates a brand-new, uniquely named database and returns a connection string to it.</summary>
    public static async Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken = default) =>
        await CreateDatabaseOnAsync((await GetSettingsAsync()).PostgresConnectionString, prefix, cancellationToken);

    /// <summary>
    /// Creates a brand-new, uniquely named database on another server than the shared one (a private server a
    /// fault test may stop) and returns a connection string to it.
    /// </summary>
    /// <param name="serverConnectionString">Superuser connection string to the server, without a database name.</param>
    /// <param name="prefix">Start of the database's name.</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    public static async Task<string> CreateDatabaseOnAsync(string serverConnectionString, string prefix, CancellationToken cancellationToken = default)
    {
        var name = UniqueName(prefix, '_', maxLength: 63);
        await using (var admin = new NpgsqlConnection(serverConnectionString))
        {
            await admin.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        return new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>Drops a database created by <see cref="CreateDatabaseAsync"/>, closing its sessions.</summary>
    public static async Task DropDatabaseAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var settings = await GetSettingsAsync();
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database
            ?? throw new ArgumentException("The connection string names no database.", nameof(connectionString));
        using (var pooled = new NpgsqlConnection(connectionString))
        {
            NpgsqlConnection.ClearPool(pooled);
        }

        await using var admin = new NpgsqlConnection(settings.PostgresConnectionString);
        await admin.OpenAsync(cancellationToken);
        await using var drop = new NpgsqlCommand(
            $"DROP DATABASE IF EXISTS \"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Creates a brand-new RabbitMQ virtual host (default queue type quorum where the broker supports it),
    /// grants the management user full permissions on it and returns the AMQP URI for it.
    /// </summary>
    public static async Task<Uri> CreateVirtualHostAsync(string prefix, CancellationToken cancellationToken = default)
    {
        var (settings, management) = await Infrastructure.Value;
        var name = UniqueName(prefix, '-', maxLength: 100);
        var vhostPath = $"api/vhosts/{Uri.EscapeDataString(name)}";

        using (var response = await management.PutAsJsonAsync(
            vhostPath, new Dictionary<string, string> { ["default_queue_type"] = "quorum" }, cancellationToken))
        {
            if (response.StatusCode == HttpStatusCode.BadRequest)
            {
                // A broker that does not know default_queue_type: create a plain virtual host.
                using var plain = await management.PutAsJsonAsync(
                    vhostPath, new Dictionary<string, string>(), cancellationToken);
                await EnsureSuccessAsync(plain, cancellationToken);
            }
            else
            {
                await EnsureSuccessAsync(response, cancellationToken);
            }
        }

        var user = Credentials(settings.RabbitMqManagementUri).User;
        using (var permissions = await management.PutAsJsonAsync(
            $"api/permissions/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(user)}",
            new Dictionary<string, string> { ["configure"] = ".*", ["write"] = ".*", ["read"] = ".*" },
            cancellationToken))
        {
            await EnsureSuccessAsync(permissions, cancellationToken);
        }

        return new UriBuilder(settings.RabbitMqUri) { Path = "/" + Uri.EscapeDataString(name) }.Uri;
    }

    /// <summary>Deletes a virtual host created by <see cref="CreateVirtualHostAsync"/>.</summary>
    public static async Task DeleteVirtualHostAsync(Uri virtualHostUri, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var name = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        if (name.Length == 0 || name == "/")
        {
            throw new ArgumentException("Refusing to delete the default virtual host.", nameof(virtualHostUri));
        }

        using var response = await management.DeleteAsync(
            new Uri($"api/vhosts/{Uri.EscapeDataString(name)}", UriKind.Relative), cancellationToken);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureSuccessAsync(response, cancellationToken);
        }
    }

    /// <summary>
    /// Creates (or replaces) a broker user with <paramref name="tags"/> (empty: no management access), for a test that
    /// runs services under a recipe's own accounts. Users are global on the broker: give them unique names and delete
    /// them with <see cref="DeleteUserAsync"/>.
    /// </summary>
    public static async Task CreateUserAsync(string name, string password, string tags, CancellationToken cancellationToken = default)
    {
        var management = (await Infrastructure.Value).Management;
        using var response = await management.PutAsJsonAsync(
            $"api/users/{Uri.EscapeDataString(name)}",
            new Dictionary<string, string> { ["password"] = password, ["tags"] = tags },
            cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
    }

    /// <summary>Grants <paramref name="user"/> exactly these configure, write and read patterns on a virtual host made by <see cref="CreateVirtualHostAsync"/>.</summary>
    public static async Task SetPermissionsAsync(
        Uri virtualHostUri, string user, string configure, string write, string read, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var name = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        using var response = await management.PutAsJsonAsync(
            $"api/permissions/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(user)}",
            new Dictionary<string, string> { ["configure"] = configure, ["write"] = write, ["read"] = read },
            cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
    }

    /// <summary>Sets one of a user's limits (<c>max-connections</c>, <c>max-channels</c>), as a recipe's definitions give it.</summary>
    public static async Task SetUserLimitAsync(string user, string limit, long value, CancellationToken cancellationToken = default)
    {
        var management = (await Infrastructure.Value).Management;
        using var response = await management.PutAsJsonAsync(
            $"api/user-limits/{Uri.EscapeDataString(user)}/{Uri.EscapeDataString(limit)}", new Dictionary<string, long> { ["value"] = value }, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
    }

    /// <summary>
    /// Sets a policy on a virtual host made by <see cref="CreateVirtualHostAsync"/>: <paramref name="policy"/> is the
    /// management API's body (<c>pattern</c>, <c>apply-to</c>, <c>priority</c>, <c>definition</c>), as a recipe's
    /// definitions give it. The broker refuses a definition it does not know.
    /// </summary>
    public static async Task SetPolicyAsync(Uri virtualHostUri, string name, object policy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var vhost = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        using var response = await management.PutAsJsonAsync(
            $"api/policies/{Uri.EscapeDataString(vhost)}/{Uri.EscapeDataString(name)}", policy, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
    }

    /// <summary>Deletes a user made by <see cref="CreateUserAsync"/> (gone already is fine).</summary>
    public static async Task DeleteUserAsync(string name, CancellationToken cancellationToken = default)
    {
        var management = (await Infrastructure.Value).Management;
        using var response = await management.DeleteAsync(new Uri($"api/users/{Uri.EscapeDataString(name)}", UriKind.Relative), cancellationToken);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureSuccessAsync(response, cancellationToken);
        }
    }

    /// <summary>
    /// The policy in force on a queue of a virtual host made by <see cref="CreateVirtualHostAsync"/> and the limits it
    /// applies (<c>effective_policy_definition</c>); null when no policy applies. The broker sets these a moment after a
    /// queue is declared.
    /// </summary>
    public static async Task<(string? Policy, JsonObject? Definition)> QueuePolicyAsync(Uri virtualHostUri, string queue, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var name = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        var found = await management.GetFromJsonAsync<JsonObject>(
            new Uri($"api/queues/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(queue)}", UriKind.Relative), cancellationToken);
        return (found?["policy"]?.GetValue<string>(), found?["effective_policy_definition"] as JsonObject);
    }

    /// <summary>Whether a queue of this name exists on a virtual host made by <see cref="CreateVirtualHostAsync"/>.</summary>
    public static async Task<bool> QueueExistsAsync(Uri virtualHostUri, string queue, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var name = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        using var response = await management.GetAsync(
            new Uri($"api/queues/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(queue)}", UriKind.Relative), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(response, cancellationToken);
        return true;
    }

    /// <summary>The queues of a virtual host made by <see cref="CreateVirtualHostAsync"/>, by name, with how many consumers each has.</summary>
    public static async Task<IReadOnlyDictionary<string, long>> ListQueuesAsync(Uri virtualHostUri, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var name = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        var queues = await management.GetFromJsonAsync<List<JsonObject>>(
            new Uri($"api/queues/{Uri.EscapeDataString(name)}?columns=name,consumers", UriKind.Relative), cancellationToken) ?? [];
        return queues.ToDictionary(q => q["name"]!.GetValue<string>(), q => q["consumers"]?.GetValue<long>() ?? 0, StringComparer.Ordinal);
    }

    /// <summary>
    /// The AMQP connections open on a virtual host made by <see cref="CreateVirtualHostAsync"/>, by name (client
    /// address and port -> broker): a connection closed and opened again shows under a new name.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ListConnectionsAsync(Uri virtualHostUri, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var name = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        var connections = await management.GetFromJsonAsync<List<JsonObject>>(
            new Uri($"api/vhosts/{Uri.EscapeDataString(name)}/connections?columns=name", UriKind.Relative), cancellationToken) ?? [];
        return [.. connections.Select(c => c["name"]!.GetValue<string>()).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The exchanges bound to <paramref name="exchange"/> (its bindings as destination) on a virtual host made by
    /// <see cref="CreateVirtualHostAsync"/>, by source name; none when the exchange does not exist.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ExchangeSourcesAsync(Uri virtualHostUri, string exchange, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var name = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        using var response = await management.GetAsync(
            new Uri($"api/exchanges/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(exchange)}/bindings/destination", UriKind.Relative), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }

        await EnsureSuccessAsync(response, cancellationToken);
        var bindings = await response.Content.ReadFromJsonAsync<List<JsonObject>>(cancellationToken) ?? [];
        return [.. bindings.Select(b => b["source"]!.GetValue<string>()).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The durable exchanges of a virtual host created by <see cref="CreateVirtualHostAsync"/>, the broker's own
    /// (<c>amq.*</c> and the default exchange) left out: where a fault test taps the services' messages.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ListExchangesAsync(Uri virtualHostUri, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var name = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        var exchanges = await management.GetFromJsonAsync<List<ExchangeInfo>>(
            new Uri($"api/exchanges/{Uri.EscapeDataString(name)}", UriKind.Relative), cancellationToken) ?? [];
        return [.. exchanges
            .Where(exchange => exchange.Name.Length > 0 && !exchange.Name.StartsWith("amq.", StringComparison.Ordinal) && exchange.Durable && !exchange.AutoDelete)
            .Select(exchange => exchange.Name)];
    }

    /// <summary>
    /// Messages published into each exchange of a virtual host so far (the management API's cumulative
    /// <c>publish_in</c>; the broker refreshes it every few seconds), by exchange name, which MassTransit makes the
    /// message type's. Used by the load generator to count the broker messages a run cost.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, long>> PublishedByExchangeAsync(Uri virtualHostUri, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(virtualHostUri);
        var management = (await Infrastructure.Value).Management;
        var name = Uri.UnescapeDataString(virtualHostUri.AbsolutePath.TrimStart('/'));
        using var document = await System.Text.Json.JsonDocument.ParseAsync(
            await management.GetStreamAsync(new Uri($"api/exchanges/{Uri.EscapeDataString(name)}?columns=name,message_stats.publish_in", UriKind.Relative), cancellationToken),
            cancellationToken: cancellationToken);
        var published = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var exchange in document.RootElement.EnumerateArray())
        {
            // An exchange nothing was published into yet may carry "message_stats": [] rather than an object.
            if (exchange.TryGetProperty("message_stats", out var stats) && stats.ValueKind == System.Text.Json.JsonValueKind.Object
                && stats.TryGetProperty("publish_in", out var count))
            {
                published[exchange.GetProperty("name").GetString() ?? string.Empty] = count.GetInt64();
            }
        }

        return published;
    }

    private static async Task<Chosen> DecideAsync()
    {
        var settings = FromEnvironment() ?? await FromContainersAsync() ?? Defaults();
        Console.Error.WriteLine(
            $"[Brokering.Testing] infrastructure: {settings.Source}; PostgreSQL {Redact(settings.PostgresConnectionString)}; "
            + $"RabbitMQ {settings.RabbitMqUri.Host}:{settings.RabbitMqUri.Port}; management {settings.RabbitMqManagementUri.Authority}");
        var management = CreateManagementClient(settings.RabbitMqManagementUri);
        await EnsureReachableAsync(settings, management);
        return new Chosen(settings, management);
    }

    private static InfrastructureSettings? FromEnvironment()
    {
        var postgres = Environment.GetEnvironmentVariable("BROKERING_POSTGRES");
        var rabbit = Environment.GetEnvironmentVariable("BROKERING_RABBITMQ");
        if (string.IsNullOrWhiteSpace(postgres) || string.IsNullOrWhiteSpace(rabbit))
        {
            return null;
        }

        var rabbitUri = new Uri(rabbit);
        var management = Environment.GetEnvironmentVariable("BROKERING_RABBITMQ_MANAGEMENT");
        var managementUri = string.IsNullOrWhiteSpace(management)
            ? ManagementUri(rabbitUri, rabbitUri.Host, 15672)
            : new Uri(management);
        return new InfrastructureSettings("environment (BROKERING_POSTGRES, BROKERING_RABBITMQ)", postgres, rabbitUri, managementUri);
    }

    private static async Task<InfrastructureSettings?> FromContainersAsync()
    {
        try
        {
            var postgres = new PostgreSqlBuilder("postgres:15")
                .WithCommand("-c", "max_connections=300")
                .Build();
            var rabbit = new RabbitMqBuilder("rabbitmq:3.13-management")
                .WithPortBinding(15672, assignRandomHostPort: true)
                .Build();
            // Containers live as long as the test process; Testcontainers' resource reaper removes them.
            await Task.WhenAll(postgres.StartAsync(), rabbit.StartAsync());

            var amqp = new Uri(rabbit.GetConnectionString());
            var management = ManagementUri(amqp, rabbit.Hostname, rabbit.GetMappedPublicPort(15672));
            var admin = new NpgsqlConnectionStringBuilder(postgres.GetConnectionString()) { Database = null };
            return new InfrastructureSettings("Testcontainers (postgres:15, rabbitmq:3.13-management)", admin.ConnectionString, amqp, management);
        }
        catch (DockerUnavailableException e)
        {
            Console.Error.WriteLine($"[Brokering.Testing] Docker is not available ({e.Message.Split('\n')[0]}); using local servers.");
            return null;
        }
    }

    private static InfrastructureSettings Defaults() => new(
        "local defaults on 127.0.0.1 (no environment variables, no Docker)",
        DefaultPostgres, new Uri(DefaultRabbitMq), new Uri(DefaultRabbitMqManagement));

    private static async Task EnsureReachableAsync(InfrastructureSettings settings, HttpClient management)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await using var connection = new NpgsqlConnection(settings.PostgresConnectionString);
            await connection.OpenAsync(timeout.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            throw new InvalidOperationException(
                $"PostgreSQL is not reachable at {Redact(settings.PostgresConnectionString)} ({settings.Source}): {e.Message}. {StartHint}", e);
        }

        // The management plugin may come up a moment after the broker: poll briefly.
        var last = await Eventually.Latest(() => ManagementProblemAsync(management, timeout.Token), problem => problem is null,
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500));
        if (last is not null)
        {
            throw new InvalidOperationException(
                $"The RabbitMQ management API is not reachable at {settings.RabbitMqManagementUri.Authority} ({settings.Source}): "
                + $"{last.Message}. {StartHint}", last);
        }
    }

    /// <summary>Why the management API did not answer its overview, or null when it did.</summary>
    private static async Task<Exception?> ManagementProblemAsync(HttpClient management, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await management.GetAsync(new Uri("api/overview", UriKind.Relative), cancellationToken);
            return response.IsSuccessStatusCode ? null : new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return e;
        }
    }

    private static HttpClient CreateManagementClient(Uri managementUri)
    {
        var (user, password) = Credentials(managementUri);
        var client = new HttpClient
        {
            BaseAddress = new UriBuilder(managementUri) { UserName = string.Empty, Password = string.Empty, Path = "/" }.Uri,
            Timeout = TimeSpan.FromSeconds(30),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return client;
    }

    private static Uri ManagementUri(Uri amqp, string host, int port)
    {
        var (user, password) = Credentials(amqp);
        return new UriBuilder("http", host, port)
        {
            UserName = Uri.EscapeDataString(user),
            Password = Uri.EscapeDataString(password),
        }.Uri;
    }

    private static (string User, string Password) Credentials(Uri uri)
    {
        var parts = uri.UserInfo.Split(':', 2);
        return (Uri.UnescapeDataString(parts[0]), parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : string.Empty);
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpRequestException(
                $"RabbitMQ management API {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} "
                + $"answered {(int)response.StatusCode}: {body}", null, response.StatusCode);
        }
    }

    private static string UniqueName(string prefix, char separator, int maxLength)
    {
        var cleaned = new string(prefix.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : separator).ToArray());
        var suffix = Guid.NewGuid().ToString("N");
        var head = cleaned.Length == 0 ? "test" : cleaned;
        head = head[..Math.Min(head.Length, maxLength - suffix.Length - 1)];
        return $"{head}{separator}{suffix}";
    }

    private static string Redact(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Password = null }.ConnectionString;

    private sealed record Chosen(InfrastructureSettings Settings, HttpClient Management);

    private sealed record ExchangeInfo(
        [property: System.Text.Json.Serialization.JsonPropertyName("name")] string Name,
        [property: System.Text.Json.Serialization.JsonPropertyName("durable")] bool Durable,
        [property: System.Text.Json.Serialization.JsonPropertyName("auto_delete")] bool AutoDelete);
}
