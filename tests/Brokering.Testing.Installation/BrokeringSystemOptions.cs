namespace Brokering.Testing.Installation;

/// <summary>
/// How a <see cref="BrokeringSystem"/> is laid out. The defaults are the end-to-end tests' installation: one
/// process per service, fresh databases on the shared test PostgreSQL, a fresh virtual host on the shared broker.
/// </summary>
public sealed record BrokeringSystemOptions
{
    /// <summary>
    /// Superuser connection string (no database) of the PostgreSQL server to create the services' databases on,
    /// for a test that stops its own server. Null: the shared test server, and the databases are dropped afterwards.
    /// </summary>
    public string? PostgresServer { get; init; }

    /// <summary>
    /// AMQP connection string the services use as it is: a private broker a test may stop, or a private cluster's
    /// nodes (<c>Brokering.ServiceDefaults.BrokerAddress</c>). Null: a fresh virtual host on the shared broker,
    /// deleted afterwards.
    /// </summary>
    public string? Broker { get; init; }

    /// <summary>How long each service process gets to report ready at start (busy machines start slowly).</summary>
    public TimeSpan ReadyPatience { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>How many processes each service runs as: same database and broker, each on its own ports.</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>
    /// True: the services trust the test issuer and each other's test keys (<see cref="TestTokens"/>). False: they get
    /// no key at all, as deploy/local/up.sh starts them, and derive their development keys from the seed in
    /// <see cref="Environment"/> (<c>Authentication__DevelopmentKeySeed</c>) or, without one, <c>~/.brokering/dev-key-seed</c>.
    /// </summary>
    public bool TestKeys { get; init; } = true;

    /// <summary>
    /// Each service process's memory limit in bytes, as a container's <c>resources.limits.memory</c> sets it (see
    /// <see cref="MemoryCgroup"/>); null: unlimited.
    /// </summary>
    public long? MemoryLimit { get; init; }

    /// <summary>Extra environment for every service process (configuration overrides such as a short hold time).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Where ordering reaches a service over gRPC, given that service's name ("Compliance", "Inventory") and its
    /// running replicas: a test may put a proxy in between. Null: the first replica's gRPC address.
    /// </summary>
    public Func<string, IReadOnlyList<ServiceProcess>, Uri>? RouteGrpc { get; init; }
}
