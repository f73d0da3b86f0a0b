using Brokering.Compliance.Data;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Brokering.Compliance.Catalogue;

/// <summary>A catalogue product with its figures (no verdict: classify it for that).</summary>
internal sealed record ProductResponse(
    string Sku,
    string Name,
    string Vendor,
    IReadOnlyDictionary<string, double> DenseTeraOpsByFormat,
    IReadOnlyDictionary<int, double> DenseTeraOpsByBitLength,
    double DieAreaMm2,
    double InterconnectGBps,
    bool Datacenter,
    double Tpp,
    double PerformanceDensity,
    string Source,
    string? Notes)
{
    public static ProductResponse From(Product product) => new(
        product.Sku, product.Name, product.Vendor, product.DenseTeraOpsByFormat, product.DenseTeraOpsByBitLength,
        product.DieAreaMm2, product.InterconnectGBps, product.Datacenter, product.Specs.TotalProcessingPerformance,
        product.Specs.PerformanceDensity, product.Source, product.Notes);
}

/// <summary><c>GET /v1/products</c>: the catalogue the rules read.</summary>
internal static class CatalogueApi
{
    public static RouteGroupBuilder MapCatalogueApi(this RouteGroupBuilder v1)
    {
        var products = v1.MapGroup("/products").WithTags("Catalogue");
        products.MapGet("/", ListAsync).WithName("ListProducts").WithSummary("Lists the catalogue with each product's specs and sources.");
        products.MapGet("/{sku}", GetAsync).WithName("GetProduct").WithSummary("One catalogue product.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    private static async Task<Ok<IReadOnlyList<ProductResponse>>> ListAsync(
        ComplianceDbContext db, ReferenceDataCache cache, CancellationToken cancellationToken)
    {
        var snapshot = await cache.GetAsync(db, cancellationToken);
        return TypedResults.Ok<IReadOnlyList<ProductResponse>>(
            [.. snapshot.Products.Values.OrderBy(product => product.Sku, StringComparer.Ordinal).Select(ProductResponse.From)]);
    }

    private static async Task<Results<Ok<ProductResponse>, ProblemHttpResult>> GetAsync(
        string sku, ComplianceDbContext db, ReferenceDataCache cache, CancellationToken cancellationToken)
    {
        var snapshot = await cache.GetAsync(db, cancellationToken);
        return snapshot.Products.TryGetValue(sku, out var product)
            ? TypedResults.Ok(ProductResponse.From(product))
            : TypedResults.Problem($"No product with SKU '{sku}' is in the catalogue.", statusCode: StatusCodes.Status404NotFound, title: "Unknown product");
    }
}
