using Brokering.Ordering.IntegrationTests.Support;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>Who may call what on ordering: every endpoint, every role, no endpoint forgotten.</summary>
public sealed class AuthorizationMatrixTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static readonly string[] Anyone = [.. BrokeringRoles.All];
    private static readonly string[] Buyer = [BrokeringRoles.Buyer];
    private static readonly string[] Ops = [BrokeringRoles.Ops];

    // null: anonymous callers too (probes, scrapers, the console's static shell, and the development-only token endpoint).
    private static readonly Dictionary<string, string[]?> Expected = new(StringComparer.Ordinal)
    {
        ["GET /health/live"] = null,
        ["GET /health/ready"] = null,
        ["GET /metrics"] = null,
        ["POST /grpc.health.v1.Health/Check"] = null,
        ["POST /grpc.health.v1.Health/Watch"] = null,
        ["POST /dev/tokens"] = null,
        ["GET /ops/"] = null,
        ["GET /ops/assets/{**path}"] = null,
        ["GET /ops/{**route}"] = null,
        ["GET /openapi/{documentName}.json"] = Anyone,
        ["POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo"] = Anyone,
        ["POST /grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"] = Anyone,
        ["POST /v1/reservations/"] = Buyer,
        ["GET /v1/reservations/{id:guid}"] = Buyer,
        ["POST /v1/reservations/{id:guid}/cancel"] = Buyer,
        ["POST /v1/reservations/{id:guid}/confirm"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Submit"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Get"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Confirm"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Cancel"] = Buyer,
        ["POST /brokering.ordering.v1.Reservations/Watch"] = Buyer,
        ["GET /v1/ops/sagas"] = Ops,
        ["GET /v1/ops/sagas/{id:guid}"] = Ops,
        ["GET /v1/ops/state-machine"] = Ops,
        ["GET /v1/ops/state-machine.mmd"] = Ops,
        ["GET /v1/ops/stream"] = Ops,
        ["GET /v1/ops/summary"] = Ops,
        ["POST /v1/ops/sagas/{id:guid}/cancel"] = Ops,
        ["POST /v1/ops/sagas/{id:guid}/release-holds"] = Ops,
        ["POST /v1/ops/sagas/{id:guid}/rescreen"] = Ops,
    };

    [Fact]
    public async Task Every_endpoint_admits_exactly_the_roles_it_is_meant_for()
    {
        using var anonymous = host.CreateClient();
        var failures = await AuthorizationMatrix.VerifyAsync(anonymous, host.Services, Expected, TestContext.Current.CancellationToken);
        failures.ShouldBeEmpty(string.Join("\n", failures));
    }
}
