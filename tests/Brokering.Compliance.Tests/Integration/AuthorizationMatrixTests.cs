using Brokering.ServiceDefaults.Security;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>Who may call what on compliance: every endpoint, every role, no endpoint forgotten.</summary>
public sealed class AuthorizationMatrixTests(ComplianceServiceFixture fixture) : IClassFixture<ComplianceServiceFixture>
{
    private static readonly string[] Anyone = [.. BrokeringRoles.All];
    private static readonly string[] Officer = [BrokeringRoles.ComplianceOfficer];
    private static readonly string[] Oversight = [BrokeringRoles.Ops, BrokeringRoles.ComplianceOfficer];
    private static readonly string[] Service = [BrokeringRoles.Service];

    private static readonly Dictionary<string, string[]?> Expected = AuthorizationMatrix.WithServiceDefaults(new Dictionary<string, string[]?>
    {
        ["GET /v1/country-groups/"] = Anyone,
        ["GET /v1/cutoffs/"] = Anyone,
        ["GET /v1/products/"] = Anyone,
        ["GET /v1/products/{sku}"] = Anyone,
        ["GET /v1/rule-sets/"] = Anyone,
        ["GET /v1/rule-sets/{version}"] = Anyone,
        ["POST /v1/classifications/"] = Anyone,
        ["POST /v1/rule-sets/"] = Officer,
        ["POST /v1/rule-sets/dry-run"] = Officer,
        ["POST /v1/restricted-parties/"] = Officer,
        ["POST /v1/restricted-parties/clearances"] = Officer,
        ["POST /v1/restricted-parties/refreshes"] = Officer,
        ["POST /v1/licences/"] = Officer,
        // Scores and evidence are for the officers who decide on matches, not for operators.
        ["GET /v1/decisions/{reservationId}"] = Officer,
        ["GET /v1/decisions/"] = Officer,
        ["GET /v1/reviews/"] = Oversight,
        ["POST /v1/reviews/{decisionId}/clear"] = Officer,
        ["POST /v1/reviews/{decisionId}/confirm"] = Officer,
        ["PUT /v1/buyers/{buyerId}"] = Officer,
        ["GET /v1/buyers/{buyerId}"] = Oversight,
        ["GET /v1/licences/"] = Oversight,
        ["GET /v1/licences/{id:guid}"] = Oversight,
        ["GET /v1/restricted-parties/"] = Oversight,
        ["GET /v1/restricted-parties/clearances"] = Oversight,
        ["GET /v1/restricted-parties/matches"] = Officer,
        ["GET /v1/restricted-parties/{id:guid}"] = Oversight,
        ["POST /brokering.compliance.v1.Compliance/Screen"] = Service,
        ["POST /brokering.compliance.v1.Compliance/Classify"] = Service,
        ["POST /brokering.compliance.v1.Compliance/GetCutoff"] = Service,
        ["POST /brokering.compliance.v1.Compliance/ListCatalogue"] = Service,
        ["POST /brokering.compliance.v1.Compliance/VouchForDecision"] = Service,
    });

    [Fact]
    public async Task Every_endpoint_admits_exactly_the_roles_it_is_meant_for()
    {
        using var anonymous = fixture.CreateAnonymousClient();
        var failures = await AuthorizationMatrix.VerifyAsync(anonymous, fixture.Services, Expected, TestContext.Current.CancellationToken);
        failures.ShouldBeEmpty(string.Join("\n", failures));
    }

    [Fact]
    public async Task No_endpoint_a_buyer_or_distributor_may_call_holds_any_tenants_data()
    {
        // Published reference data and a calculation over what the caller sends: nothing of one tenant for another to
        // reach. Buyers' registrations, decisions, licences and matches are for officers (and operators) only, so a new
        // route opened to tenants must come with a cross-tenant probe or a reason here.
        const string Published = "published reference data, the same for every caller";
        var withoutTenantData = new Dictionary<string, string>(CrossTenantMatrix.ServiceDefaultsWithoutTenantData)
        {
            ["GET /v1/country-groups/"] = Published,
            ["GET /v1/cutoffs/"] = Published,
            ["GET /v1/products/"] = Published,
            ["GET /v1/products/{sku}"] = Published,
            ["GET /v1/rule-sets/"] = Published,
            ["GET /v1/rule-sets/{version}"] = Published,
            ["POST /v1/classifications/"] = "classifies the specs in the request under the published rules; stores nothing",
        };

        var failures = await CrossTenantMatrix.VerifyAsync(fixture.Services, Expected, new Dictionary<string, Func<Task>>(), withoutTenantData);

        failures.ShouldBeEmpty(string.Join("\n", failures));
    }

    [Fact]
    public async Task A_token_for_inventory_or_ordering_alone_is_refused_by_compliance_users_and_services_alike()
    {
        var cancel = TestContext.Current.CancellationToken;

        async Task<System.Net.HttpStatusCode> StatusWith(string token)
        {
            using var client = fixture.CreateAnonymousClient();
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var response = await client.GetAsync("/v1/products/", cancel);
            return response.StatusCode;
        }

        (await StatusWith(TestTokens.ForAudienceOf("compliance", "officer", null, BrokeringRoles.ComplianceOfficer))).ShouldBe(System.Net.HttpStatusCode.OK);
        (await StatusWith(TestTokens.ServiceFor("ordering", "compliance"))).ShouldBe(System.Net.HttpStatusCode.OK);
        (await StatusWith(TestTokens.ForAudienceOf("inventory", "officer", null, BrokeringRoles.ComplianceOfficer))).ShouldBe(System.Net.HttpStatusCode.Unauthorized);
        (await StatusWith(TestTokens.ForAudienceOf("ordering", "officer", null, BrokeringRoles.ComplianceOfficer))).ShouldBe(System.Net.HttpStatusCode.Unauthorized);
        (await StatusWith(TestTokens.ServiceFor("ordering", "inventory"))).ShouldBe(System.Net.HttpStatusCode.Unauthorized, "ordering's token for inventory");
    }
}
