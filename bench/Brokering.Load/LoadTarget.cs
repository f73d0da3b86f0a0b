using System.Net.Http.Headers;
using Brokering.Invariants;
using Brokering.ServiceDefaults.Security;
using Microsoft.IdentityModel.Tokens;

namespace Brokering.Load;

/// <summary>
/// Where the system under load is: the three services' REST addresses, the key its tokens are signed
/// with, and (when known) its databases, for the invariant check, and its service processes, for memory and CPU.
/// </summary>
public sealed class LoadTarget
{
    private readonly TokenIssuer issuer;
    private readonly Dictionary<string, string> tokens = new(StringComparer.Ordinal);

    /// <param name="ordering">Ordering's REST address.</param>
    /// <param name="inventory">Inventory's REST address.</param>
    /// <param name="compliance">Compliance's REST address.</param>
    /// <param name="signingKey">The base64 key the services validate tokens with (<c>Authentication:SigningKey</c>).</param>
    /// <param name="databases">The three databases, or null when the invariants cannot be checked.</param>
    /// <param name="processes">Service name → process id, for resource figures (empty: none sampled).</param>
    public LoadTarget(Uri ordering, Uri inventory, Uri compliance, string signingKey, InvariantDatabases? databases, IReadOnlyDictionary<string, int> processes)
    {
        Ordering = ordering;
        Inventory = inventory;
        Compliance = compliance;
        Databases = databases;
        Processes = processes;
        issuer = new TokenIssuer(
            new TokenSettings("brokering", "brokering", new SymmetricSecurityKey(Convert.FromBase64String(signingKey)) { KeyId = "brokering" }),
            TimeProvider.System);
    }

    public Uri Ordering { get; }
    public Uri Inventory { get; }
    public Uri Compliance { get; }
    public InvariantDatabases? Databases { get; }
    public IReadOnlyDictionary<string, int> Processes { get; }

    /// <summary>The key a locally started system shares (deploy/local/up.sh: generated at first run in Development).</summary>
    public static string DevelopmentKeyFile =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".brokering", "dev-signing-key");

    /// <summary>A bearer header for a role, acting for a tenant (buyer or distributor); tokens are cached for the run.</summary>
    public AuthenticationHeaderValue Bearer(string role, string? tenant)
    {
        var key = $"{role}/{tenant}";
        lock (tokens)
        {
            if (!tokens.TryGetValue(key, out var token))
            {
                var subject = tenant is null ? $"load-{role}" : $"load@{tenant}";
                tokens[key] = token = issuer.Issue(subject, [role], tenant, TimeSpan.FromHours(4));
            }

            return new AuthenticationHeaderValue("Bearer", token);
        }
    }
}
