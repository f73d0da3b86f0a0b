using System.Security.Claims;
using Brokering.ServiceDefaults.Security;
using Grpc.Core;

namespace Brokering.Ordering.Buyers;

/// <summary>
/// The calling buyer, from its token's tenant claim (the buyer policy guarantees one is present).
/// Every read and action is scoped to it.
/// </summary>
public static class BuyerIdentity
{
    public static string Of(ClaimsPrincipal user) =>
        user.FindFirst(BrokeringRoles.TenantClaim)?.Value
        ?? throw new InvalidOperationException("A buyer token without a tenant claim passed the buyer policy.");

    public static string Of(HttpContext http) => Of(http.User);

    public static string Of(ServerCallContext call) => Of(call.GetHttpContext().User);
}
