using Brokering.ServiceDefaults.Security;

namespace Brokering.Testing;

/// <summary>
/// The second half of a service's authorisation matrix: with two tenants of each kind, every endpoint a tenant's role
/// may call is tried with the other tenant's ids. The endpoints come from the running service (its endpoint data
/// source, gRPC methods included) and the roles from the service's <see cref="AuthorizationMatrix"/> expectations, so
/// an endpoint a buyer or distributor can reach that has neither a cross-tenant probe nor a stated reason why it holds
/// no tenant's data fails the check.
/// </summary>
public static class CrossTenantMatrix
{
    /// <summary>What every service maps that a tenant may call, and why it holds no tenant's data.</summary>
    public static IReadOnlyDictionary<string, string> ServiceDefaultsWithoutTenantData { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["GET /openapi/{documentName}.json"] = "describes the API, the same document for every caller",
        ["POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo"] = "describes the gRPC services, the same for every caller",
        ["POST /grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"] = "describes the gRPC services, the same for every caller",
    };

    /// <summary>
    /// The endpoints of the running service that a buyer or a distributor may call: those whose expected roles name
    /// one, and those without an expectation (the role matrix fails on them too; here they need an entry as well).
    /// Endpoints open to anonymous callers carry no tenant to scope by and are left to the role matrix.
    /// </summary>
    public static IReadOnlyList<string> TenantReachable(IServiceProvider services, IReadOnlyDictionary<string, string[]?> roles) =>
        [.. AuthorizationMatrix.Discover(services).Where(endpoint =>
            !roles.TryGetValue(endpoint, out var allowed)
            || (allowed is not null && (allowed.Contains(BrokeringRoles.Buyer) || allowed.Contains(BrokeringRoles.Distributor))))];

    /// <summary>
    /// Runs every probe and returns every failure, empty when all is as expected: a tenant-reachable endpoint with no
    /// entry, an entry for an endpoint the service no longer maps, and each probe that throws (its message kept).
    /// </summary>
    public static async Task<IReadOnlyList<string>> VerifyAsync(
        IServiceProvider services,
        IReadOnlyDictionary<string, string[]?> roles,
        IReadOnlyDictionary<string, Func<Task>> probes,
        IReadOnlyDictionary<string, string> withoutTenantData)
    {
        var failures = new List<string>();
        var reachable = TenantReachable(services, roles);
        foreach (var endpoint in reachable.Where(e => !probes.ContainsKey(e) && !withoutTenantData.ContainsKey(e)))
        {
            failures.Add($"{endpoint}: a tenant may call it but the cross-tenant matrix has no probe for it; add one (or say why it holds no tenant's data).");
        }

        foreach (var stale in probes.Keys.Concat(withoutTenantData.Keys).Where(e => !reachable.Contains(e)))
        {
            failures.Add($"{stale}: in the cross-tenant matrix but not an endpoint a tenant can call.");
        }

        foreach (var (endpoint, probe) in probes.Where(p => reachable.Contains(p.Key)))
        {
            try
            {
                await probe();
            }
            catch (Exception failure) when (failure is not OperationCanceledException)
            {
                failures.Add($"{endpoint}: {failure.Message}");
            }
        }

        return failures;
    }
}
