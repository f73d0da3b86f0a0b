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
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ReservationsClient = Brokering.Contracts.Grpc.Ordering.Reservations.ReservationsClient;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Every text a caller sends that ordering stores, passes on or queries by is refused at the door when it holds a NUL
/// (which PostgreSQL cannot store: the request used to fail with a 500, and a NUL in a message would fail at every
/// redelivery) or another control character, on REST, bulk and gRPC alike, naming the field; nothing is stored. Tabs
/// and line breaks stay allowed in free text (reasons, descriptions). The token's tenant is one value. (A token with two subjects is refused by the bearer handler itself, 401.)
/// </summary>
public sealed class StoredTextTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private const string Submission = """
        {"buyerReference":"PO-1","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
         "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
         "lines":[{"sku":"NVIDIA-H20","quantity":1,"maxUnitPrice":10,"currency":"USD"}]}
        """;

    private static readonly string[] StatusChanged = ["reservation.status_changed"];
    private static readonly string[] TwoTenants = ["buyer-a", "buyer-b"];

    public static TheoryData<string, string, string> Bodies => new()
    {
        { "a NUL in the buyer reference", "buyerReference", Submission.Replace("\"PO-1\"", "\"PO\\u0000-1\"", StringComparison.Ordinal) },
        { "a NUL in the end user's name", "endUser.name", Submission.Replace("\"Acme\"", "\"Ac\\u0000me\"", StringComparison.Ordinal) },
        { "a terminal escape in the end user's name", "endUser.name", Submission.Replace("\"Acme\"", "\"\\u001b[2JAcme\"", StringComparison.Ordinal) },
        { "a line break in the buyer reference", "buyerReference", Submission.Replace("\"PO-1\"", "\"PO-1\\nPO-2\"", StringComparison.Ordinal) },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task A_submission_with_a_control_character_in_a_stored_text_is_a_400_naming_the_field_and_stores_nothing(string what, string field, string body)
    {
        var buyer = NewBuyer();
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        using var response = await client.PostAsync(new Uri("/v1/reservations", UriKind.Relative), content, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, what);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await ErrorsAsync(response)).ShouldContainKey(field, what);
        (await ReservationsOfAsync(buyer)).ShouldBe(0);
    }

    [Fact]
    public async Task A_bulk_item_whose_idempotency_key_or_text_holds_a_nul_is_refused_as_that_item_and_stores_nothing()
    {
        var buyer = NewBuyer();
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        var item = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Submission)!;
        var badKey = new Dictionary<string, JsonElement>(item) { ["idempotencyKey"] = JsonSerializer.SerializeToElement("key\0one") };
        var badName = new Dictionary<string, JsonElement>(item)
        {
            ["idempotencyKey"] = JsonSerializer.SerializeToElement("key-two"),
            ["endUser"] = JsonSerializer.SerializeToElement(new { name = "Ac\0me", country = "US" }),
        };

        using var response = await client.PostAsJsonAsync(new Uri("/v1/reservations/bulk", UriKind.Relative), new[] { badKey, badName }, TestContext.Current.CancellationToken);

        ((int)response.StatusCode).ShouldBeLessThan(500);
        var results = (await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("results").EnumerateArray().ToList();
        results.Select(result => result.GetProperty("outcome").GetString()).ShouldBe(["Invalid", "Invalid"]);
        results[0].GetProperty("errors").EnumerateObject().Select(error => error.Name).ShouldContain("items[0].idempotencyKey");
        results[1].GetProperty("errors").EnumerateObject().Select(error => error.Name).ShouldContain("items[1].endUser.name");
        (await ReservationsOfAsync(buyer)).ShouldBe(0);
    }

    [Theory]
    [InlineData("idempotency_key")]
    [InlineData("buyerReference")]
    [InlineData("endUser.name")]
    public async Task A_grpc_submission_with_a_nul_in_a_stored_text_is_invalid_argument_naming_the_field_and_stores_nothing(string field)
    {
        var buyer = NewBuyer();
        var request = GrpcSubmission();
        switch (field)
        {
            case "idempotency_key":
                request.IdempotencyKey = "key\0";
                break;
            case "buyerReference":
                request.BuyerReference = "PO\0-1";
                break;
            default:
                request.EndUser.Name = "Ac\0me";
                break;
        }

        using var channel = Channel();

        var refusal = await Should.ThrowAsync<RpcException>(async () => await new ReservationsClient(channel).SubmitAsync(request, As(buyer), cancellationToken: TestContext.Current.CancellationToken));

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain(field);
        (await ReservationsOfAsync(buyer)).ShouldBe(0);
    }

    [Fact]
    public async Task A_grpc_bulk_item_whose_idempotency_key_holds_a_nul_is_refused_as_that_item()
    {
        var buyer = NewBuyer();
        var item = GrpcSubmission();
        item.IdempotencyKey = "key\0";
        var request = new SubmitManyRequest { Reservations = { item } };
        using var channel = Channel();

        var answer = await new ReservationsClient(channel).SubmitManyAsync(request, As(buyer), cancellationToken: TestContext.Current.CancellationToken);

        answer.Results.Single().Outcome.ShouldBe(SubmitOutcome.Invalid);
        answer.Results.Single().Errors.Keys.ShouldContain("reservations[0].idempotencyKey");
        (await ReservationsOfAsync(buyer)).ShouldBe(0);
    }

    [Fact]
    public async Task A_cancellation_whose_reason_holds_a_nul_is_refused_on_rest_and_grpc_before_it_becomes_a_message()
    {
        var buyer = NewBuyer();
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        var id = Guid.NewGuid();
        using var channel = Channel();

        using var response = await client.PostAsJsonAsync(new Uri($"/v1/reservations/{id}/cancel", UriKind.Relative), new { reason = "changed\0mind" }, TestContext.Current.CancellationToken);
        var refusal = await Should.ThrowAsync<RpcException>(async () => await new ReservationsClient(channel)
            .CancelAsync(new CancelReservationRequest { Id = id.ToString(), Reason = "changed\0mind" }, As(buyer), cancellationToken: TestContext.Current.CancellationToken));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(response)).ShouldContainKey("reason");
        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Status.Detail.ShouldContain("reason");
    }

    [Fact]
    public async Task A_list_filter_holding_a_nul_is_refused_on_rest_and_grpc_instead_of_failing_the_query()
    {
        var buyer = NewBuyer();
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var channel = Channel();

        using var response = await client.GetAsync(new Uri("/v1/reservations?buyerReference=PO%00-1", UriKind.Relative), TestContext.Current.CancellationToken);
        var refusal = await Should.ThrowAsync<RpcException>(async () => await new ReservationsClient(channel)
            .ListAsync(new ListReservationsRequest { BuyerReference = "PO\0-1" }, As(buyer), cancellationToken: TestContext.Current.CancellationToken));
        using var ops = await host.Http.GetAsync(new Uri("/v1/ops/sagas?buyer=a%00b", UriKind.Relative), TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(response)).ShouldContainKey("buyerReference");
        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        ops.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(ops)).ShouldContainKey("buyer");
    }

    [Theory]
    [InlineData("description", "https://example.com/hook", "night\0shift")]
    [InlineData("url", "https://example.com/ho\0ok", "night shift")]
    public async Task A_webhook_subscription_with_a_nul_in_its_url_or_description_is_a_400_naming_the_field(string field, string url, string description)
    {
        var buyer = NewBuyer();
        using var client = host.ClientWith(TestTokens.Buyer(buyer));

        using var response = await client.PostAsJsonAsync(new Uri("/v1/webhooks/subscriptions", UriKind.Relative),
            new { url, eventTypes = StatusChanged, description }, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(response)).ShouldContainKey(field);
    }

    [Fact]
    public async Task An_ops_action_whose_reason_holds_a_nul_is_a_400_naming_the_reason()
    {
        using var response = await host.Http.PostAsJsonAsync(new Uri($"/v1/ops/sagas/{Guid.NewGuid()}/cancel", UriKind.Relative),
            new { reason = "stuck\0saga" }, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorsAsync(response)).ShouldContainKey("reason");
    }

    [Theory]
    [InlineData("two tenants")]
    [InlineData("an empty tenant")]
    [InlineData("a tenant with a NUL")]
    public async Task A_buyer_token_whose_tenant_is_not_one_plain_value_is_a_400_naming_the_claim(string what)
    {
        // Minted here, not in theory data: the test issuer's key is made anew in each process, discovery's included.
        var token = what switch
        {
            "two tenants" => TokenWith(new Dictionary<string, object> { ["sub"] = "user@two", ["tenant"] = TwoTenants }),
            "an empty tenant" => TokenWith(new Dictionary<string, object> { ["sub"] = "user@empty", ["tenant"] = "" }),
            _ => TokenWith(new Dictionary<string, object> { ["sub"] = "user@nul", ["tenant"] = "buyer\0a" }),
        };
        using var client = host.ClientWith(token);

        using var response = await client.GetAsync(new Uri("/v1/reservations", UriKind.Relative), TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, what);
        (await ErrorsAsync(response)).ShouldContainKey("token.tenant", what);
    }

    private static string NewBuyer() => $"text-{Guid.NewGuid():N}"[..24];

    private static string TokenWith(Dictionary<string, object> claims)
    {
        var now = DateTime.UtcNow;
        claims["role"] = BrokeringRoles.Buyer;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = TestTokens.IssuerName,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now.AddMinutes(-1),
            Expires = now.AddMinutes(30),
            SigningCredentials = new SigningCredentials(TestTokens.Issuer.Key, SecurityAlgorithms.EcdsaSha256),
        };
        foreach (var audience in TestTokens.AllAudiences)
        {
            descriptor.Audiences.Add(audience);
        }

        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    private static SubmitReservationRequest GrpcSubmission()
    {
        var request = new SubmitReservationRequest
        {
            BuyerReference = "PO-1",
            EndUser = new EndUser { Name = "Acme", Country = "US" },
            DestinationCountry = "US",
            FillPolicy = FillPolicy.AllOrNone,
            Confirmation = Confirmation.Manual,
            IdempotencyKey = Guid.NewGuid().ToString(),
        };
        request.Lines.Add(new ReservationLine { Sku = "NVIDIA-H20", Quantity = 1, MaxUnitPrice = new DecimalValue { Units = 100 }, Currency = "USD" });
        return request;
    }

    private GrpcChannel Channel() =>
        GrpcChannel.ForAddress(host.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = host.Server.CreateHandler() });

    private static Metadata As(string buyer) => new() { { "authorization", $"Bearer {TestTokens.Buyer(buyer)}" } };

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
