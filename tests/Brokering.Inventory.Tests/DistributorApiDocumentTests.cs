using System.Text.Json;

namespace Brokering.Inventory.Tests;

/// <summary>The OpenAPI document describes the distributor's holds and orders lists and its webhooks, so an ERP can generate a client from it.</summary>
public sealed class DistributorApiDocumentTests(InventoryFixture fixture)
{
    [Theory]
    [InlineData("/v1/distributor/holds", new[] { "status", "sku", "since", "limit", "cursor" }, "holds")]
    [InlineData("/v1/distributor/orders", new[] { "sku", "since", "limit", "cursor" }, "orders")]
    public async Task Each_distributor_list_is_documented_with_its_described_filters_its_page_and_its_problem_answer(
        string path, string[] parameters, string items)
    {
        using var document = JsonDocument.Parse(await fixture.A.Http.GetStringAsync("/openapi/v1.json", TestContext.Current.CancellationToken));

        var operation = document.RootElement.GetProperty("paths").GetProperty(path).GetProperty("get");
        operation.GetProperty("summary").GetString().ShouldNotBeNullOrWhiteSpace();
        var documented = operation.GetProperty("parameters").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.TryGetProperty("description", out var d) ? d.GetString() : null);
        documented.Keys.Order().ShouldBe(parameters.Order());
        documented.Values.ShouldAllBe(description => !string.IsNullOrWhiteSpace(description));
        var responses = operation.GetProperty("responses");
        responses.GetProperty("400").GetProperty("content").TryGetProperty("application/problem+json", out _).ShouldBeTrue();
        var page = responses.GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString()!;
        var schema = document.RootElement.GetProperty("components").GetProperty("schemas").GetProperty(page.Split('/')[^1]);
        schema.GetProperty("properties").TryGetProperty(items, out _).ShouldBeTrue();
        schema.GetProperty("properties").TryGetProperty("next", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Every_distributor_webhook_route_is_documented_with_a_summary_its_problem_answers_and_the_logs_described_paging()
    {
        using var document = JsonDocument.Parse(await fixture.A.Http.GetStringAsync("/openapi/v1.json", TestContext.Current.CancellationToken));

        var operations = document.RootElement.GetProperty("paths").EnumerateObject()
            .Where(path => path.Name.StartsWith("/v1/distributor/webhooks/subscriptions", StringComparison.Ordinal))
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => (Path: path.Name.TrimEnd('/'), Method: operation.Name, Operation: operation.Value)))
            .ToList();

        operations.Count.ShouldBe(8);
        foreach (var (path, method, operation) in operations)
        {
            operation.GetProperty("summary").GetString().ShouldNotBeNullOrWhiteSpace($"{method} {path}");
            var responses = operation.GetProperty("responses");
            responses.GetProperty("403").GetProperty("content").TryGetProperty("application/problem+json", out _).ShouldBeTrue($"{method} {path}");
            if (path.Contains("{id}", StringComparison.Ordinal))
            {
                responses.GetProperty("404").GetProperty("content").TryGetProperty("application/problem+json", out _).ShouldBeTrue($"{method} {path}");
            }
        }

        var create = operations.Single(o => o.Path == "/v1/distributor/webhooks/subscriptions" && o.Method == "post").Operation;
        create.GetProperty("description").GetString()!.ShouldContain("webhook-signature");
        create.GetProperty("responses").GetProperty("400").GetProperty("content").TryGetProperty("application/problem+json", out _).ShouldBeTrue();
        create.GetProperty("responses").GetProperty("409").GetProperty("content").TryGetProperty("application/problem+json", out _).ShouldBeTrue();
        var log = operations.Single(o => o.Path.EndsWith("/deliveries", StringComparison.Ordinal)).Operation;
        log.GetProperty("parameters").EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query")
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.TryGetProperty("description", out var d) ? d.GetString() : null)
            .ShouldSatisfyAllConditions(
                query => query.Keys.Order().ShouldBe(["before", "limit"]),
                query => query.Values.ShouldAllBe(description => !string.IsNullOrWhiteSpace(description)));
    }
}
