using System.Globalization;
using Brokering.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// The claims a request is scoped by (<c>tenant</c>, <c>sub</c>) are input like any other: a token naming a
/// tenant longer than <see cref="InputBounds.MaxTenantLength"/> or a subject longer than
/// <see cref="InputBounds.MaxSubjectLength"/> is refused before anything stores it (a <c>varchar</c> column would
/// answer 500) or keys a rate-limit partition on it. REST answers 400 problem+json naming the claim, gRPC
/// INVALID_ARGUMENT naming it.
/// </summary>
public static class ClaimBounds
{
    /// <summary>The first claim out of bounds as (claim, reason), or null when the caller's claims are acceptable.</summary>
    public static (string Claim, string Reason)? Check(System.Security.Claims.ClaimsPrincipal user)
    {
        // One value each: every scope and every audit record reads the first, so a token naming two tenants (a JSON array)
        // or an empty one would act for whichever comes first, or for a tenant nobody registered.
        var tenants = user.FindAll(BrokeringRoles.TenantClaim).ToList();
        if (tenants.Count > 1 || tenants.Any(claim => claim.Value.Trim().Length == 0 || claim.Value.Length > InputBounds.MaxTenantLength || !InputBounds.IsPlainText(claim.Value)))
        {
            return ("token.tenant", $"The tenant claim is one value of 1 to {InputBounds.MaxTenantLength} characters, with no control characters.");
        }

        var subjects = user.FindAll("sub").ToList();
        if (subjects.Count > 1 || subjects.Any(claim => claim.Value.Trim().Length == 0 || claim.Value.Length > InputBounds.MaxSubjectLength || !InputBounds.IsPlainText(claim.Value)))
        {
            return ("token.sub", $"The sub claim is one value of 1 to {InputBounds.MaxSubjectLength} characters, with no control characters.");
        }

        return null;
    }

    /// <summary>Refuses a request whose token carries claims out of bounds (runs after authentication).</summary>
    public static IApplicationBuilder UseClaimBounds(this IApplicationBuilder app) =>
        app.Use(async (http, next) =>
        {
            if (http.User.Identity?.IsAuthenticated != true || Check(http.User) is not { } refusal)
            {
                await next(http);
                return;
            }

            if (http.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
            {
                // A trailers-only gRPC response: the status travels in the headers of an empty 200.
                http.Response.StatusCode = StatusCodes.Status200OK;
                http.Response.ContentType = "application/grpc";
                http.Response.Headers["grpc-status"] = ((int)Grpc.Core.StatusCode.InvalidArgument).ToString(CultureInfo.InvariantCulture);
                http.Response.Headers["grpc-message"] = Uri.EscapeDataString($"{refusal.Claim}: {refusal.Reason}");
                return;
            }

            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = new Microsoft.AspNetCore.Http.HttpValidationProblemDetails(new Dictionary<string, string[]>
                {
                    [refusal.Claim] = [refusal.Reason],
                })
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "The token's claims are out of bounds.",
                },
            });
        });
}
