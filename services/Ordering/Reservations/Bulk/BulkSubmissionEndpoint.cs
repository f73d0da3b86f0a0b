using System.Text;
using System.Text.Json;
using Brokering.Ordering.Buyers;
using Brokering.ServiceDefaults.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Reservations.Bulk;

/// <summary><c>POST /v1/reservations/bulk</c>: many reservations in one call, each answered on its own.</summary>
public static class BulkSubmissionEndpoint
{
    public static RouteGroupBuilder MapBulkSubmission(this RouteGroupBuilder group)
    {
        group.MapPost("/bulk", BulkAsync)
            .WithSummary("Submits many reservations at once, each with its own idempotency key and its own result.")
            .WithDescription("A JSON array of submit bodies, each with an idempotencyKey, or text/csv with a header row and one row "
                + "per reservation line, rows sharing an idempotencyKey making one reservation (columns: "
                + "idempotencyKey,buyerReference,endUserName,endUserCountry,destinationCountry,fillPolicy,minFillRatio,confirmation,"
                + "sku,quantity,maxUnitPrice,currency). Each item is submitted exactly as POST /v1/reservations would submit it and "
                + "answered on its own (Accepted, Replayed, Invalid with paths like items[3].lines[0].quantity, KeyReused, "
                + "KeyInFlight, RateLimited, Unavailable), never all or nothing. 400 for a body that cannot be read at all or more "
                + "reservations than Ordering:MaxReservationsPerBulk (100); 415 for another media type or none. Either body is read in "
                + "the charset its Content-Type names (UTF-8 without one).")
            .Accepts<IReadOnlyList<BulkReservationItem>>("application/json", BulkCsv.ContentType)
            // Accepts gives every media type the JSON schema; the CSV form is text.
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                if (operation.RequestBody?.Content?.TryGetValue(BulkCsv.ContentType, out var csv) == true)
                {
                    csv.Schema = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String };
                }

                return Task.CompletedTask;
            })
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return group;
    }

    private static async Task<Results<Ok<BulkAnswer>, ValidationProblem, ProblemHttpResult>> BulkAsync(
        HttpContext http, BulkSubmitter bulk, IOptions<OrderingOptions> options,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken cancellationToken)
    {
        var buyer = BuyerIdentity.Of(http);

        // Routing answers any other media type 415, but lets a request without one through: it was read as CSV, and a
        // JSON body sent without its header came back as a CSV header error.
        if (string.IsNullOrWhiteSpace(http.Request.ContentType))
        {
            return TypedResults.Problem(
                $"A Content-Type is required: application/json for an array of reservations, {BulkCsv.ContentType} for a header row and one row per line.",
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type");
        }

        List<BulkEntry>? entries;
        Dictionary<string, string[]> errors;
        if (http.Request.HasJsonContentType())
        {
            var (body, charset, refusal) = BulkJsonBody.Open(http.Request);
            if (refusal is not null)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [RequestBindingErrors.Root] = [refusal] });
            }

            // Only a transcoding stream of ours is closed; the request's own body is the server's.
            await using (ReferenceEquals(body, http.Request.Body) ? null : body)
            {
                try
                {
                    using var document = await JsonDocument.ParseAsync(body!, cancellationToken: cancellationToken);
                    (entries, errors) = BulkJson.Read(document, json.Value.SerializerOptions);
                }
                catch (JsonException)
                {
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["Not JSON: a JSON array of reservations is expected."] });
                }
                catch (DecoderFallbackException)
                {
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                    {
                        ["body"] = [$"Not {charset} text: name the charset the body is in (application/json; charset=…), or send it as UTF-8."],
                    });
                }
            }
        }
        else
        {
            var csv = await BulkCsvText.ReadAsync(http.Request, cancellationToken);
            if (csv.Refusal is { } refusal)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [refusal] });
            }

            using var text = new StringReader(csv.Text!);
            (entries, errors) = BulkCsv.Read(text);
        }

        var most = options.Value.MaxReservationsPerBulk;
        if (entries is { Count: 0 })
        {
            errors["items"] = ["At least one reservation is required."];
        }
        else if (entries?.Count > most)
        {
            errors["items"] = [$"At most {most} reservations per bulk submission; send the rest in another."];
        }

        if (entries is null || errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return TypedResults.Ok(await bulk.SubmitAsync(http, buyer, entries, "items", cancellationToken));
    }
}
