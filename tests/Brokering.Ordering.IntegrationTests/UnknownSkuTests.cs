using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Ordering.Catalogue;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// An unknown SKU is refused at the API from ordering's own copy of the catalogue, without asking compliance;
/// without a usable copy the order is accepted and left to screening.
/// </summary>
public sealed class UnknownSkuTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_SKU_missing_from_a_fresh_catalogue_copy_is_a_400_naming_the_line_and_stores_nothing()
    {
        host.Services.GetRequiredService<CatalogueCopy>().Replace(["NVIDIA-H20-96GB"], DateTimeOffset.UtcNow);
        var buyer = $"unknown-sku-{Guid.NewGuid():N}";

        using var response = await SubmitAsync(buyer, "NVIDIA-H20-96GB", "NO-SUCH-GPU");

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        var errors = problem.GetProperty("errors");
        errors.TryGetProperty("lines[1].sku", out var message).ShouldBeTrue();
        message[0].GetString()!.ShouldContain("NO-SUCH-GPU");
        errors.TryGetProperty("lines[0].sku", out _).ShouldBeFalse();
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        (await db.Reservations.CountAsync(r => r.BuyerId == buyer, Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task Without_a_usable_catalogue_copy_an_unknown_SKU_is_accepted_for_screening_to_judge()
    {
        host.Services.GetRequiredService<CatalogueCopy>().Replace([], DateTimeOffset.UtcNow);

        using var response = await SubmitAsync($"unknown-sku-{Guid.NewGuid():N}", "NO-SUCH-GPU");

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
    }

    private async Task<HttpResponseMessage> SubmitAsync(string buyer, params string[] skus)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        return await client.PostAsJsonAsync("/v1/reservations", new
        {
            buyerReference = "PO-SKU",
            endUser = new { name = "Acme Research", country = "US" },
            destinationCountry = "US",
            fillPolicy = new { kind = "AllOrNone" },
            confirmation = "Manual",
            lines = skus.Select(sku => new { sku, quantity = 1, maxUnitPrice = 20_000m, currency = "USD" }).ToArray(),
        }, Ct);
    }
}
