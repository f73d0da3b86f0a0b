using System.Globalization;
using Brokering.Compliance.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Brokering.Compliance.Classification;

/// <summary>Body of <c>POST /v1/classifications</c>.</summary>
/// <param name="At">The instant whose rule set applies; now when absent.</param>
/// <param name="Product">What to classify.</param>
internal sealed record ClassificationRequest(DateTimeOffset? At, ProductInput? Product);

/// <summary>A product by SKU, by specs, or a SKU with some figures overridden.</summary>
internal sealed record ProductInput(
    string? Sku,
    Dictionary<string, double>? DenseTeraOpsByBitLength,
    double? DieAreaMm2,
    double? InterconnectGBps,
    bool? Datacenter);

/// <summary>The specs a classification used.</summary>
internal sealed record SpecsResponse(IReadOnlyDictionary<int, double> DenseTeraOpsByBitLength, double DieAreaMm2, double InterconnectGBps, bool Datacenter);

/// <summary>A classification and what it rests on.</summary>
internal sealed record ClassificationResponse(
    string Classification,
    double Tpp,
    double PerformanceDensity,
    string RuleSet,
    IReadOnlyList<string> Reasons,
    DateTimeOffset At,
    string? Sku,
    SpecsResponse Specs);

/// <summary><c>POST /v1/classifications</c>: classify a product at an instant.</summary>
internal static class ClassificationsApi
{
    public static RouteGroupBuilder MapClassificationsApi(this RouteGroupBuilder v1)
    {
        v1.MapGroup("/classifications").WithTags("Classification")
            .MapPost("/", ClassifyAsync)
            .WithName("Classify")
            .WithSummary("Classifies a product (catalogue SKU or specs) under the rule set in force at an instant.");
        return v1;
    }

    private static async Task<Results<Ok<ClassificationResponse>, ValidationProblem>> ClassifyAsync(
        ClassificationRequest request, ClassificationService service, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (request.Product is not { } product)
        {
            errors.Add("product", "The product to classify is required: a catalogue sku, or its specs.");
            return errors.Problem();
        }

        Dictionary<int, double>? widths = null;
        if (product.DenseTeraOpsByBitLength is { } given)
        {
            widths = [];
            foreach (var (key, value) in given)
            {
                if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var bits) || bits <= 0 || bits > ProductSpecs.MaxBitLength)
                {
                    errors.Add($"product.denseTeraOpsByBitLength.{key}", FormattableString.Invariant($"Keys are operand bit lengths, whole numbers from 1 to {ProductSpecs.MaxBitLength}."));
                }
                else if (!(value >= 0) || value > ProductSpecs.MaxTeraOps)
                {
                    errors.Add($"product.denseTeraOpsByBitLength.{key}", FormattableString.Invariant($"A TOPS figure runs from 0 to {ProductSpecs.MaxTeraOps:0}."));
                }
                else
                {
                    widths[bits] = value;
                }
            }

            if (given.Count == 0)
            {
                errors.Add("product.denseTeraOpsByBitLength", "At least one bit length is required.");
            }
        }

        if (errors.Any)
        {
            return errors.Problem();
        }

        try
        {
            var query = new ProductQuery(product.Sku, widths, product.DieAreaMm2, product.InterconnectGBps, product.Datacenter);
            var (result, specs, at) = await service.ClassifyAsync(query, request.At, cancellationToken);
            return TypedResults.Ok(new ClassificationResponse(
                result.Classification,
                result.Tpp,
                result.PerformanceDensity,
                result.RuleSetVersion,
                result.Reasons,
                at,
                product.Sku?.Trim(),
                new SpecsResponse(specs.DenseTeraOpsByBitLength, specs.DieAreaMm2, specs.InterconnectGBps, specs.Datacenter)));
        }
        catch (ProductQueryException exception)
        {
            errors.Add($"product.{exception.Field}", exception.Message);
            return errors.Problem();
        }
    }
}
