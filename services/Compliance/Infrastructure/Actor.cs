using Brokering.ServiceDefaults.Security;

namespace Brokering.Compliance.Infrastructure;

/// <summary>
/// Who did a compliance write, for the audit trail: always the caller's token subject, never a value the caller typed
/// into the body (which anyone holding the role could set to a colleague's name).
/// </summary>
internal static class Actor
{
    /// <summary>What seeded reference data records as its actor.</summary>
    public const string Seed = "system:seed";

    /// <summary>The token subject of the caller (the officer policy guarantees an authenticated one).</summary>
    public static string Of(HttpContext http) =>
        http.User.FindFirst("sub")?.Value is { Length: > 0 } subject
            ? subject
            : throw new InvalidOperationException($"A token without a subject passed the {BrokeringRoles.ComplianceOfficer} policy.");
}
