using System.Security.Claims;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Inventory.StockFeeds;

/// <summary>Which feeds a caller may publish: a distributor's token names its own id in the tenant claim.</summary>
internal static class DistributorIdentity
{
    public static bool MayPublish(ClaimsPrincipal caller, string? distributorId) =>
        caller.IsInRole(BrokeringRoles.Distributor)
        && distributorId is not null
        && string.Equals(caller.FindFirst(BrokeringRoles.TenantClaim)?.Value, distributorId.Trim(), StringComparison.Ordinal);
}
