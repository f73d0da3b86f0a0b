using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Brokering.Contracts.Grpc.Common;
using Brokering.Contracts.Grpc.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Numbers and strings beyond their bounds are refused at the door, REST with a problem naming the field and gRPC
/// with INVALID_ARGUMENT naming it, and store nothing: nothing is accepted that would fail later at every redelivery.
/// </summary>
public sealed class InputBoundsTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    [Fact]
    public async Task A_rest_max_unit_price_beyond_the_bound_is_a_400_naming_the_line_field_and_stores_nothing()
    {
        var buyer = $"bounds-{Guid.NewGuid():N}"[..24];
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        var body = """
            {"buyerReference":"PO-1","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
             "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
             "lines":[{"sku":"NVIDIA-H20","quantity":1,"maxUnitPrice":9300000000000000000,"currency":"USD"}]}
            """;
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        using var response = await client.PostAsync("/v1/reservations", content, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await ErrorsAsync(response)).ShouldContainKey("lines[0].maxUnitPrice");
        (await ReservationsOfAsync(buyer)).ShouldBe(0);
    }

    [Fact]
    public async Task A_grpc_max_unit_price_beyond_the_bound_is_invalid_argument_naming_the_line_field()
    {
        var buyer = $"bounds-{Guid.NewGuid():N}"[..24];
        var request = Submission();
        request.Lines[0].MaxUnitPrice = new DecimalValue { Units = long.MaxValue };

        var refusal = await Should.ThrowAsync<RpcException>(async () => await SubmitAsync(TestTokens.Buyer(buyer), request));

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("lines[0].maxUnitPrice");
        (await ReservationsOfAsync(buyer)).ShouldBe(0);
    }

    [Fact]
    public async Task A_grpc_max_unit_price_with_malformed_nanos_is_invalid_argument_naming_the_nanos_field()
    {
        var request = Submission();
        request.Lines[0].MaxUnitPrice = new DecimalValue { Units = 100, Nanos = 1_500_000_000 };

        var refusal = await Should.ThrowAsync<RpcException>(async () => await SubmitAsync(TestTokens.Buyer("bounds-nanos"), request));

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("lines[0].max_unit_price.nanos");
    }

    [Fact]
    public async Task A_grpc_idempotency_key_longer_than_200_characters_is_invalid_argument_not_a_database_failure()
    {
        var request = Submission();
        request.IdempotencyKey = new string('k', 201);

        var refusal = await Should.ThrowAsync<RpcException>(async () => await SubmitAsync(TestTokens.Buyer("bounds-key"), request));

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("idempotency_key");
    }

    [Fact]
    public async Task A_token_with_a_tenant_longer_than_the_bound_is_a_400_naming_the_claim_on_rest_and_invalid_argument_on_grpc()
    {
        var token = TestTokens.For("user@long", new string('t', 101), BrokeringRoles.Buyer);
        using var client = host.ClientWith(token);

        using var response = await client.GetAsync($"/v1/reservations/{Guid.NewGuid()}", TestContext.Current.CancellationToken);
        var refusal = await Should.ThrowAsync<RpcException>(async () => await SubmitAsync(token, Submission()));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await ErrorsAsync(response)).ShouldContainKey("token.tenant");
        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("token.tenant");
    }

    [Fact]
    public async Task A_token_with_a_subject_longer_than_the_bound_is_a_400_naming_the_claim()
    {
        using var client = host.ClientWith(TestTokens.For(new string('s', 201), "bounds-sub", BrokeringRoles.Buyer));

        using var response = await client.GetAsync($"/v1/reservations/{Guid.NewGuid()}", TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(response)).ShouldContainKey("token.sub");
    }

    private static SubmitReservationRequest Submission()
    {
        var request = new SubmitReservationRequest
        {
            BuyerReference = "PO-1",
            EndUser = new EndUser { Name = "Acme", Country = "US" },
            DestinationCountry = "US",
            FillPolicy = FillPolicy.AllOrNone,
            Confirmation = Confirmation.Manual,
        };
        request.Lines.Add(new ReservationLine { Sku = "NVIDIA-H20", Quantity = 1, MaxUnitPrice = new DecimalValue { Units = 100 }, Currency = "USD" });
        return request;
    }

    private async Task<Contracts.Grpc.Ordering.ReservationView> SubmitAsync(string token, SubmitReservationRequest request)
    {
        using var channel = GrpcChannel.ForAddress(host.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = host.Server.CreateHandler() });
        var client = new Contracts.Grpc.Ordering.Reservations.ReservationsClient(channel);
        return await client.SubmitAsync(request, new Metadata { { "authorization", $"Bearer {token}" } }, cancellationToken: TestContext.Current.CancellationToken);
    }

    private async Task<int> ReservationsOfAsync(string buyer)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        return await db.Reservations.CountAsync(r => r.BuyerId == buyer, TestContext.Current.CancellationToken);
    }

    private static async Task<Dictionary<string, string[]>> ErrorsAsync(HttpResponseMessage response)
    {
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        return problem.GetProperty("errors").Deserialize<Dictionary<string, string[]>>()!;
    }
}
