using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// A SKU enters ordering in its one canonical spelling, so the per-buyer cap, the saga's fill and the cutoff re-screen
/// (all keyed on the stored SKU) cannot be slipped past by padding or case; a look-alike is refused at the door.
/// </summary>
public sealed class SkuSpellingTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    [Fact]
    public async Task A_padded_lower_case_sku_is_stored_in_the_catalogue_spelling()
    {
        var buyer = $"sku-{Guid.NewGuid():N}"[..20];
        using var client = host.ClientWith(TestTokens.Buyer(buyer));

        using var response = await client.PostAsync("/v1/reservations", Body(" nvidia-h800-sxm5-80gb "), TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        var stored = await db.Reservations.AsNoTracking().SingleAsync(r => r.BuyerId == buyer, TestContext.Current.CancellationToken);
        stored.Lines.Single().Sku.ShouldBe("NVIDIA-H800-SXM5-80GB");
    }

    [Fact]
    public async Task A_sku_with_a_look_alike_letter_is_a_400_naming_the_line()
    {
        using var client = host.ClientWith(TestTokens.Buyer("sku-lookalike"));

        using var response = await client.PostAsync("/v1/reservations", Body("NVIDIA-Н800-SXM5-80GB"), TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        problem.GetProperty("errors").TryGetProperty("lines[0].sku", out _).ShouldBeTrue();
    }

    private static StringContent Body(string sku) => new(
        JsonSerializer.Serialize(new
        {
            buyerReference = "PO-SKU",
            endUser = new { name = "Acme Cloud Inc.", country = "US" },
            destinationCountry = "US",
            fillPolicy = new { kind = "AllOrNone" },
            confirmation = "Manual",
            lines = new[] { new { sku, quantity = 1, maxUnitPrice = 32000, currency = "USD" } },
        }),
        Encoding.UTF8,
        "application/json");
}
