using System.Security.Claims;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// Where a user token carries its roles (<c>Authentication:RoleClaim</c>): one or more claim paths, comma-separated,
/// each a top-level claim or a path into a JSON object claim, as identity providers nest them: <c>role</c> (the
/// default), <c>roles</c> (Entra ID app roles), <c>realm_access.roles</c> and <c>resource_access.{audience}.roles</c>
/// (Keycloak realm and client roles; <c>{audience}</c> is this service's audience). Roles are read from those paths
/// and nowhere else: any other claim, a flat <c>role</c> included, grants nothing once a path is configured.
/// </summary>
public sealed class UserRoleClaims
{
    private const string AudiencePlaceholder = "{audience}";
    private readonly IReadOnlyList<string[]> paths;

    private UserRoleClaims(IReadOnlyList<string[]> paths) => this.paths = paths;

    /// <summary>The paths as configured, with the audience filled in.</summary>
    public IReadOnlyList<string> Paths => [.. paths.Select(path => string.Join('.', path))];

    /// <summary>Whether roles are read from the flat <c>role</c> claim alone, which is what the services authorise on.</summary>
    public bool IsDefault => paths is [[BrokeringRoles.RoleClaim]];

    /// <summary>Reads the setting; null or empty means <c>role</c>. A path with an empty segment is refused at startup.</summary>
    public static UserRoleClaims Parse(string? setting, string audience)
    {
        if (string.IsNullOrWhiteSpace(setting))
        {
            return new UserRoleClaims([[BrokeringRoles.RoleClaim]]);
        }

        var parsed = new List<string[]>();
        foreach (var path in setting.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var segments = path.Replace(AudiencePlaceholder, audience, StringComparison.Ordinal).Split('.');
            if (segments.Any(segment => segment.Length == 0 || segment.Any(char.IsWhiteSpace)))
            {
                throw new InvalidOperationException(
                    $"Authentication:RoleClaim: '{path}' is not a claim path (claim names joined by dots, e.g. realm_access.roles).");
            }

            parsed.Add(segments);
        }

        return parsed.Count > 0 ? new UserRoleClaims(parsed) : new UserRoleClaims([[BrokeringRoles.RoleClaim]]);
    }

    /// <summary>
    /// Makes the identity's <c>role</c> claims exactly the roles found at the configured paths: those the token carried
    /// elsewhere are dropped, so no claim outside them (one the user may influence through another mapper) adds a role.
    /// </summary>
    public void Apply(ClaimsIdentity identity)
    {
        if (IsDefault)
        {
            return;
        }

        var roles = paths.SelectMany(path => RolesAt(identity, path)).Distinct(StringComparer.Ordinal).ToList();
        foreach (var carried in identity.FindAll(BrokeringRoles.RoleClaim).ToList())
        {
            identity.RemoveClaim(carried);
        }

        foreach (var role in roles)
        {
            identity.AddClaim(new Claim(BrokeringRoles.RoleClaim, role));
        }
    }

    // The handler gives a top-level array one claim per element and an object (or an array's object element) one claim
    // whose value is its JSON, typed as such; only those are walked into, so a string that merely looks like JSON is a string.
    private static IEnumerable<string> RolesAt(ClaimsIdentity identity, string[] path)
    {
        foreach (var claim in identity.FindAll(path[0]))
        {
            var isJson = claim.ValueType is JsonClaimValueTypes.Json or JsonClaimValueTypes.JsonArray;
            if (path.Length == 1)
            {
                if (!isJson)
                {
                    yield return claim.Value;
                }

                continue;
            }

            if (!isJson)
            {
                continue;
            }

            using var document = JsonDocument.Parse(claim.Value);
            var element = document.RootElement;
            var found = true;
            foreach (var segment in path.Skip(1))
            {
                if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(segment, out element))
                {
                    found = false;
                    break;
                }
            }

            if (!found)
            {
                continue;
            }

            if (element.ValueKind == JsonValueKind.String)
            {
                yield return element.GetString()!;
            }
            else if (element.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in element.EnumerateArray().Where(item => item.ValueKind == JsonValueKind.String))
                {
                    yield return item.GetString()!;
                }
            }
        }
    }
}
