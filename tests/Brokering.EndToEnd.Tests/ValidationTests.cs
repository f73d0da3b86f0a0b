using System.Net;
using System.Text;
using System.Text.Json;
using Shouldly;

namespace Brokering.EndToEnd.Tests;

/// <summary>
/// A bad submission is refused whole, before anything is stored: 400 problem+json (RFC 9457) naming
/// every bad field by its JSON path, no reservation, no saga, and no Idempotency-Key used up.
/// </summary>
[Collection(nameof(BuyerApiCollection))]
public sealed class ValidationTests(SystemUnderTest system)
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private readonly ScrambleDriver driver = system.Scramble();

    [Fact]
    public async Task A_submission_with_bad_fields_gets_400_problem_details_naming_each_field_path_and_creates_nothing()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = NewBuyer("invalid");
        var body = new
        {
            buyerReference = "",
            endUser = new { name = "", country = "XX" },
            destinationCountry = "ZZ",
            fillPolicy = new { kind = "AllowPartial", minFillRatio = 1.5m },
            confirmation = "Sometimes",
            lines = new object[]
            {
                new { sku = "", quantity = 0, maxUnitPrice = 0m, currency = "GBP" },
                new { sku = Sku, quantity = 1, maxUnitPrice = 32_000m, currency = "USD" },
                new { sku = Sku, quantity = 1, maxUnitPrice = 32_000m, currency = "USD" },
            },
        };

        var errors = await ShouldBeRefusedAsync(buyer, body, idempotencyKey: null, cancellationToken);

        errors.Keys.Order(StringComparer.Ordinal).ShouldBe(
        [
            "buyerReference", "confirmation", "destinationCountry", "endUser.country", "endUser.name", "fillPolicy.minFillRatio",
            "lines[0].currency", "lines[0].maxUnitPrice", "lines[0].quantity", "lines[0].sku", "lines[2].sku",
        ]);
        errors.Values.ShouldAllBe(messages => messages.Length > 0 && messages.All(message => message.Length > 0));
        await ShouldHaveNothingAsync(buyer, cancellationToken);
    }

    [Fact]
    public async Task A_submission_without_lines_or_policies_names_the_missing_parts()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = NewBuyer("empty");
        var body = new { buyerReference = "PO-EMPTY", destinationCountry = "US", lines = Array.Empty<object>() };

        var errors = await ShouldBeRefusedAsync(buyer, body, idempotencyKey: null, cancellationToken);

        errors.Keys.ShouldBe(["endUser", "fillPolicy.kind", "confirmation", "lines"], ignoreOrder: true);
        await ShouldHaveNothingAsync(buyer, cancellationToken);
    }

    [Fact]
    public async Task A_body_that_is_not_a_reservation_at_all_gets_400_problem_details_and_creates_nothing()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = NewBuyer("malformed");
        using var client = system.Buyer(buyer);
        using var content = new StringContent("""{ "buyerReference": "PO-X", "lines": [ { "sku": "X", "quantity": "lots" } ] }""", Encoding.UTF8, "application/json");

        using var response = await client.PostAsync(new Uri("/v1/reservations", UriKind.Relative), content, cancellationToken);

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json", text);
        await ShouldHaveNothingAsync(buyer, cancellationToken);
    }

    [Fact]
    public async Task A_refused_submission_does_not_use_up_its_idempotency_key()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = NewBuyer("refused-key");
        var key = Guid.NewGuid().ToString();
        var valid = ScrambleDriver.Reservation("PO-KEY", "Acme Cloud Inc.", "AllOrNone", "Manual", [new Line(Sku, 1, 32_000m)], destination: "US", endUserCountry: "US");
        var invalid = ScrambleDriver.Reservation("PO-KEY", "Acme Cloud Inc.", "AllOrNone", "Manual", [new Line(Sku, 0, 32_000m)], destination: "US", endUserCountry: "US");

        var errors = await ShouldBeRefusedAsync(buyer, invalid, key, cancellationToken);
        errors.Keys.ShouldBe(["lines[0].quantity"]);

        // The corrected request with the same key is a first request, not a key reused with another body (422).
        var id = await driver.SubmitAcceptedAsync(buyer, valid, cancellationToken, key);
        await driver.WaitUntilEndedAsync(buyer, id, TimeSpan.FromSeconds(60), cancellationToken);
        (await system.OpsCountAsync(buyer, cancellationToken)).ShouldBe(1);
    }

    private static string NewBuyer(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Posts, expects 400 application/problem+json with an <c>errors</c> object, and returns it.</summary>
    private async Task<Dictionary<string, string[]>> ShouldBeRefusedAsync(string buyer, object body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var response = await driver.PostReservationAsync(buyer, body, idempotencyKey, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = JsonSerializer.Deserialize<JsonElement>(text);
        problem.GetProperty("status").GetInt32().ShouldBe(400);
        return problem.GetProperty("errors").Deserialize<Dictionary<string, string[]>>()!;
    }

    /// <summary>Nothing stored: no saga for ops to list and no accepted reservation in ordering's database, now or a moment later.</summary>
    private async Task ShouldHaveNothingAsync(string buyer, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        (await system.OpsCountAsync(buyer, cancellationToken)).ShouldBe(0);
        (await system.StoredReservationsAsync(buyer, cancellationToken)).ShouldBe(0);
    }
}
