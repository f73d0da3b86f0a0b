using System.Net;
using System.Text;
using System.Text.Json;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>Bodies a careless or hostile client sends are refused with problem+json and store nothing.</summary>
public sealed class HostileInputTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private const string Valid = """
        {"buyerReference":"PO-1","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
         "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
         "lines":[{"sku":"NVIDIA-H20","quantity":1,"maxUnitPrice":1,"currency":"USD"}]}
        """;

    // What is wrong with each body, and the field the answer names for it ("$": the body itself).
    public static TheoryData<string, string, string> Bodies => new()
    {
        { "an unknown field", Valid.Replace("\"buyerReference\"", "\"maxUnitPrise\":1,\"buyerReference\"", StringComparison.Ordinal), "maxUnitPrise" },
        { "a number sent as a string", Valid.Replace("\"quantity\":1", "\"quantity\":\"1\"", StringComparison.Ordinal), "lines[0].quantity" },
        { "NaN for a price", Valid.Replace("\"maxUnitPrice\":1", "\"maxUnitPrice\":NaN", StringComparison.Ordinal), "lines[0].maxUnitPrice" },
        { "a truncated body", Valid[..40], "endUser" },
        { "an array instead of an object", "[1,2,3]", "$" },
        { "a quantity beyond 64 bits", Valid.Replace("\"quantity\":1", "\"quantity\":99999999999999999999999", StringComparison.Ordinal), "lines[0].quantity" },
        { "a fraction of a unit", Valid.Replace("\"quantity\":1", "\"quantity\":1.5", StringComparison.Ordinal), "lines[0].quantity" },
        { "a field given twice", Valid.Replace("\"buyerReference\":\"PO-1\"", "\"buyerReference\":\"PO-1\",\"buyerReference\":\"PO-2\"", StringComparison.Ordinal), "buyerReference" },
        { "a line that is null", Valid.Replace("\"lines\":[", "\"lines\":[null,", StringComparison.Ordinal), "lines[0]" },
        { "a body that is JSON null", "null", "$" },
    };

    [Theory]
    [InlineData("/v1/reservations", "text/plain")]
    [InlineData("/v1/reservations", "application/xml")]
    [InlineData("/v1/reservations", "application/x-www-form-urlencoded")]
    [InlineData("/v1/reservations/0b5d4a0e-63a7-4c1e-9a0f-55c1e0a4f001/cancel", "text/plain")]
    public async Task A_body_that_is_not_json_is_a_415_problem_and_stores_nothing(string path, string mediaType)
    {
        var buyer = $"hostile-{Guid.NewGuid():N}";
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var content = new StringContent(Valid, Encoding.UTF8, mediaType);

        using var response = await client.PostAsync(path, content, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.UnsupportedMediaType, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        (await db.Reservations.CountAsync(r => r.BuyerId == buyer, TestContext.Current.CancellationToken)).ShouldBe(0);
    }

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task A_malformed_submission_is_a_400_problem_naming_the_field_at_fault_and_stores_nothing(string what, string body, string field)
    {
        var buyer = $"hostile-{Guid.NewGuid():N}";
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        using var response = await client.PostAsync("/v1/reservations", content, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, what);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json", what);
        var problem = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        problem.ShouldNotContain("   at ", Case.Sensitive, what);
        // The caller's terms only: no .NET type or parameter name from the framework's own message.
        problem.ShouldNotContain("System.", Case.Sensitive, what);
        problem.ShouldNotContain("SubmitReservationRequest", Case.Sensitive, what);
        using (var document = JsonDocument.Parse(problem))
        {
            var errors = document.RootElement.GetProperty("errors");
            errors.EnumerateObject().Select(error => error.Name).ShouldBe([field], $"{what}: {problem}");
        }

        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        (await db.Reservations.CountAsync(r => r.BuyerId == buyer, TestContext.Current.CancellationToken)).ShouldBe(0, what);
    }

    [Fact]
    public async Task Two_idempotency_keys_on_one_submission_are_a_400_naming_the_header_and_store_nothing()
    {
        var buyer = $"hostile-{Guid.NewGuid():N}";
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations") { Content = new StringContent(Valid, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", ["po-1", "po-2"]).ShouldBeTrue();

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        var problem = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, problem);
        using (var document = JsonDocument.Parse(problem))
        {
            document.RootElement.GetProperty("errors").EnumerateObject().Select(error => error.Name).ShouldBe(["Idempotency-Key"], problem);
        }

        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        (await db.Reservations.CountAsync(r => r.BuyerId == buyer, TestContext.Current.CancellationToken)).ShouldBe(0);
    }
}
