namespace Brokering.ServiceDefaults.Security;

/// <summary>The roles a Brokering token can carry, and the claims that scope them.</summary>
public static class BrokeringRoles
{
    /// <summary>A server maker; its tenant claim is the buyer organisation.</summary>
    public const string Buyer = "buyer";

    /// <summary>A distributor; its tenant claim is the distributor id.</summary>
    public const string Distributor = "distributor";

    /// <summary>An operator of the platform.</summary>
    public const string Ops = "ops";

    /// <summary>A compliance officer: publishes rule sets, list entries, licences and clearances.</summary>
    public const string ComplianceOfficer = "compliance-officer";

    /// <summary>Another Brokering service calling over gRPC with its own identity.</summary>
    public const string Service = "service";

    /// <summary>Policy: ops or compliance officers, who oversee decisions, lists and licences.</summary>
    public const string Oversight = "oversight";

    /// <summary>Policy: ops or another Brokering service: the platform's own view of distributors' stock and holds.</summary>
    public const string Platform = "platform";

    /// <summary>Every role, for tests and the development token endpoint.</summary>
    public static readonly IReadOnlyList<string> All = [Buyer, Distributor, Ops, ComplianceOfficer, Service];

    /// <summary>Claim naming the tenant (buyer organisation or distributor id) a token acts for.</summary>
    public const string TenantClaim = "tenant";

    /// <summary>Claim carrying roles (one claim per role).</summary>
    public const string RoleClaim = "role";
}
