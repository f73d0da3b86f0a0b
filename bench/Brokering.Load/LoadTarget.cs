using System.Net.Http.Headers;
using Brokering.Invariants;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing.Scramble;

namespace Brokering.Load;

/// <summary>
/// Where the system under load is: the three services' REST addresses, the issuer of the user tokens it
/// accepts, and (when known) its databases, for the invariant check, and its service processes, for memory and CPU.
/// </summary>
public sealed class LoadTarget
{
    private readonly TokenIssuer issuer;
    private static readonly string[] Audiences = [.. TokenSettings.PlatformServices.Select(service => $"brokering-{service}")];
    private readonly Dictionary<string, string> tokens = new(StringComparer.Ordinal);

    /// <param name="ordering">Ordering's REST address.</param>
    /// <param name="inventory">Inventory's REST address.</param>
    /// <param name="compliance">Compliance's REST address.</param>
    /// <param name="issuer">An issuer of user tokens the services trust (the test issuer, or the development issuer).</param>
    /// <param name="databases">The three databases, or null when the invariants cannot be checked.</param>
    /// <param name="processes">Service name → process id, for resource figures (empty: none sampled).</param>
    /// <param name="broker">The system's RabbitMQ virtual host (AMQP URI), to count the messages a run publishes; null when not known.</param>
    public LoadTarget(
        Uri ordering, Uri inventory, Uri compliance, TokenIssuer issuer, InvariantDatabases? databases, IReadOnlyDictionary<string, int> processes,
        Uri? broker = null)
    {
        Broker = broker;
        Ordering = ordering;
        Inventory = inventory;
        Compliance = compliance;
        Databases = databases;
        Processes = processes;
        this.issuer = issuer;
    }

    public Uri Ordering { get; }
    public Uri Inventory { get; }
    public Uri Compliance { get; }
    public InvariantDatabases? Databases { get; }
    public IReadOnlyDictionary<string, int> Processes { get; }
    public Uri? Broker { get; }

    /// <summary>
    /// The development issuer of a locally started system (deploy/local/up.sh runs Development): its key derives from
    /// the seed every local service derives it from (<see cref="SigningKeys.DevelopmentKey"/>).
    /// </summary>
    public static TokenIssuer DevelopmentIssuer(string seed) =>
        new(TokenSettings.DevelopmentIssuerName, SigningKeys.Derive(seed, "dev-issuer"), TimeProvider.System);

    /// <summary>
    /// The scramble's clients of this system: light ones over <paramref name="handler"/>, which a run shares for all
    /// its calls (so offered load reuses connections), each carrying the role's cached token.
    /// </summary>
    public ScrambleClients ClientsOver(HttpMessageHandler handler) => (service, role, tenant) => new HttpClient(handler, disposeHandler: false)
    {
        BaseAddress = service switch
        {
            ScrambleService.Ordering => Ordering,
            ScrambleService.Inventory => Inventory,
            _ => Compliance,
        },
        Timeout = TimeSpan.FromSeconds(60),
        DefaultRequestHeaders = { Authorization = Bearer(role, tenant) },
    };

    /// <summary>A bearer header for a role, acting for a tenant (buyer or distributor); tokens are cached for the run.</summary>
    public AuthenticationHeaderValue Bearer(string role, string? tenant)
    {
        var key = $"{role}/{tenant}";
        lock (tokens)
        {
            if (!tokens.TryGetValue(key, out var token))
            {
                var subject = tenant is null ? $"load-{role}" : $"load@{tenant}";
                tokens[key] = token = issuer.Issue(subject, [role], tenant, Audiences, TimeSpan.FromHours(4));
            }

            return new AuthenticationHeaderValue("Bearer", token);
        }
    }
}
