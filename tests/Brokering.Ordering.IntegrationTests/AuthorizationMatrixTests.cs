using Brokering.Ordering.IntegrationTests.Support;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>Who may call what on ordering: every endpoint, every role, no endpoint forgotten.</summary>
public sealed class AuthorizationMatrixTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static readonly string[] Buyer = [BrokeringRoles.Buyer];
    private static readonly string[] Ops = [BrokeringRoles.Ops];
    private static readonly string[] Officer = [BrokeringRoles.ComplianceOfficer];
    private static readonly string[] Oversight = [BrokeringRoles.Ops, BrokeringRoles.ComplianceOfficer];

    // null: anonymous callers too (the console's static shell carries no data).
    internal static readonly Dictionary<string, string[]?> Expected = AuthorizationMatrix.WithServiceDefaults(new Dictionary<string, string[]?>
    {
        ["GET /ops/"] = null,
        ["GET /ops/assets/{**path}"] = null,
        ["GET /ops/{**route}"] = null,
        ["POST /v1/reservations/"] = Buyer,
        ["GET /v1/reservations/"] = Buyer,
        ["POST /v1/reservations/bulk"] = Buyer,
        ["GET /v1/reservations/{id:guid}"] = Buyer,
        ["GET /v1/reservations/changes"] = Buyer,
        ["POST /v1/reservations/{id:guid}/cancel"] = Buyer,
        ["POST /v1/reservations/{id:guid}/confirm"] = Buyer,
        ["POST /v1/webhooks/subscriptions/"] = Buyer,
        ["GET /v1/webhooks/subscriptions/"] = Buyer,
        ["GET /v1/webhooks/subscriptions/{id:guid}"] = Buyer,
        ["DELETE /v1/webhooks/subscriptions/{id:guid}"] = Buyer,
        ["POST /v1/webhooks/subscriptions/{id:guid}/pause"] = Buyer,
        ["POST /v1/webhooks/subscriptions/{id:guid}/resume"] = Buyer,
        ["GET /v1/webhooks/subscriptions/{id:guid}/deliveries"] = Buyer,
        ["POST /v1/webhooks/subscriptions/{id:guid}/deliveries/{deliveryId:guid}/replay"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Submit"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Get"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/List"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/SubmitMany"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Confirm"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Cancel"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Watch"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Changes"] = Buyer,
        ["GET /v1/ops/sagas"] = Ops,
        ["GET /v1/ops/sagas/{id:guid}"] = Ops,
        ["GET /v1/ops/states"] = Ops,
        ["GET /v1/ops/state-machine"] = Ops,
        ["GET /v1/ops/state-machine.mmd"] = Ops,
        ["GET /v1/ops/stream"] = Ops,
        ["GET /v1/ops/summary"] = Ops,
        ["POST /v1/ops/sagas/{id:guid}/cancel"] = Ops,
        ["POST /v1/ops/sagas/{id:guid}/release-holds"] = Ops,
        ["POST /v1/ops/sagas/{id:guid}/rescreen"] = Ops,
        ["GET /v1/console/session"] = Oversight,
        ["GET /v1/review-desk/"] = Oversight,
        ["POST /v1/review-desk/{decisionId}/clear"] = Officer,
        ["POST /v1/review-desk/{decisionId}/confirm"] = Officer,
        ["POST /v1/review-desk/rule-set-dry-run"] = Officer,
    });

    [Fact]
    public async Task Every_endpoint_admits_exactly_the_roles_it_is_meant_for()
    {
        using var anonymous = host.CreateClient();
        var failures = await AuthorizationMatrix.VerifyAsync(anonymous, host.Services, Expected, TestContext.Current.CancellationToken);
        failures.ShouldBeEmpty(string.Join("\n", failures));
    }

    [Fact]
    public async Task A_token_for_inventory_or_compliance_alone_is_refused_by_ordering()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var own = host.ClientWith(TestTokens.ForAudienceOf("ordering", "operator", null, BrokeringRoles.Ops));
        using var forInventory = host.ClientWith(TestTokens.ForAudienceOf("inventory", "operator", null, BrokeringRoles.Ops));
        using var forCompliance = host.ClientWith(TestTokens.ForAudienceOf("compliance", "operator", null, BrokeringRoles.Ops));

        using var accepted = await own.GetAsync("/v1/ops/summary", cancel);
        using var inventorys = await forInventory.GetAsync("/v1/ops/summary", cancel);
        using var compliances = await forCompliance.GetAsync("/v1/ops/summary", cancel);

        accepted.StatusCode.ShouldBe(System.Net.HttpStatusCode.OK);
        inventorys.StatusCode.ShouldBe(System.Net.HttpStatusCode.Unauthorized);
        compliances.StatusCode.ShouldBe(System.Net.HttpStatusCode.Unauthorized);
    }
}
