using Brokering.Ordering.IntegrationTests.Support;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Ordering's OpenAPI document tells the truth for every operation, the operators' and the review desk's as well as the
/// buyers' (which <see cref="BuyerApiDocumentTests"/> holds to exactly what they answer): every route it maps is in it,
/// and every answer (refusals of anonymous callers and of the wrong role, unknown records, unreadable input, and what a
/// right call answers) is declared for the operation with the media type it comes in (<see cref="ApiProbe"/>).
/// </summary>
public sealed class OrderingApiDocumentTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static readonly string[] OpsActions = ["cancel", "release-holds", "rescreen"];

    [Fact]
    public async Task Every_route_is_documented_and_every_answer_of_every_operation_is_declared()
    {
        using var client = host.CreateClient();
        var failures = await ApiProbe.VerifyAsync(client, host.Services, TestContext.Current.CancellationToken, async probe =>
        {
            // An action with a reason on a saga nobody has is refused as unknown (the generic probe's empty body never gets that far).
            var operatorToken = ApiProbe.TokenFor(BrokeringRoles.Ops);
            foreach (var action in OpsActions)
            {
                await probe.CallAsync($"POST /v1/ops/sagas/{{id}}/{action}", operatorToken, HttpMethod.Post, $"/v1/ops/sagas/{Guid.NewGuid()}/{action}",
                    """{"reason":"api document"}""", cancellationToken: TestContext.Current.CancellationToken);
            }
        });
        failures.ShouldBeEmpty(string.Join("\n", failures));
    }
}
