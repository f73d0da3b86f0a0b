using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// The officers' search of screening decisions over REST, on real PostgreSQL: decisions filed by screenings over gRPC
/// are found by buyer and outcome, newest first, in pages that resume from their cursor, and exported as CSV.
/// </summary>
public sealed class DecisionSearchTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private const string H100 = "NVIDIA-H100-SXM5-80GB";
    private const string H20 = "NVIDIA-H20";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_buyers_decisions_are_found_newest_first_by_outcome_in_pages_that_resume_from_their_cursor()
    {
        var buyer = $"search-{Guid.NewGuid():N}";
        var filed = new List<string>();
        foreach (var sku in new[] { H100, H20, H100 })
        {
            filed.Add((await service.Grpc.ScreenAsync(Request(buyer, sku), cancellationToken: Cancel)).DecisionId);
        }

        var first = await SearchAsync($"buyerId={buyer}&limit=2");
        first.GetProperty("decisions").GetArrayLength().ShouldBe(2);
        var next = first.GetProperty("next").GetString().ShouldNotBeNull();
        var second = await SearchAsync($"buyerId={buyer}&limit=2&cursor={Uri.EscapeDataString(next)}");
        second.GetProperty("next").ValueKind.ShouldBe(JsonValueKind.Null);

        var all = first.GetProperty("decisions").EnumerateArray().Concat(second.GetProperty("decisions").EnumerateArray()).ToList();
        all.Select(d => d.GetProperty("id").GetString()).ShouldBe(Enumerable.Reverse(filed), "newest first, each once");
        all.ShouldAllBe(d => d.GetProperty("buyerId").GetString() == buyer);
        var instants = all.Select(d => d.GetProperty("decidedAt").GetDateTimeOffset()).ToList();
        instants.ShouldBe(instants.OrderByDescending(at => at));

        var licences = await SearchAsync($"buyerId={buyer}&outcome=LicenceRequired");
        licences.GetProperty("decisions").EnumerateArray().Select(d => d.GetProperty("id").GetString()).ShouldBe([filed[2], filed[0]]);
        licences.GetProperty("decisions")[0].GetProperty("reasons").GetArrayLength().ShouldBeGreaterThan(0);
        var after = all[1].GetProperty("decidedAt").GetDateTimeOffset();
        var since = await SearchAsync($"buyerId={buyer}&from={Uri.EscapeDataString(after.ToString("O"))}");
        since.GetProperty("decisions").EnumerateArray().Select(d => d.GetProperty("id").GetString()).ShouldBe([filed[2], filed[1]]);
    }

    [Fact]
    public async Task The_export_is_one_csv_of_every_match_with_a_header_and_a_row_per_decision()
    {
        var buyer = $"export-{Guid.NewGuid():N}";
        var filed = new List<string>();
        foreach (var sku in new[] { H100, H20 })
        {
            filed.Add((await service.Grpc.ScreenAsync(Request(buyer, sku), cancellationToken: Cancel)).DecisionId);
        }

        using var response = await service.Http.GetAsync($"/v1/decisions?buyerId={buyer}&format=csv&limit=1", Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Cancel));
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/csv");
        response.Content.Headers.ContentDisposition!.FileName.ShouldNotBeNull().ShouldContain("decisions.csv");
        var lines = (await response.Content.ReadAsStringAsync(Cancel)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        lines[0].ShouldBe("id,reservationId,buyerId,decidedAt,outcome,ruleSetVersion,listVersion,earliestCutoff,reasons");
        lines.Skip(1).Select(line => line.Split(',')[0]).ShouldBe(Enumerable.Reverse(filed), "every match, not a page of limit 1");
        lines[1].Split(',')[4].ShouldBe("Approved");
        lines[2].Split(',')[4].ShouldBe("LicenceRequired");
    }

    [Theory]
    [InlineData("outcome=Maybe", "outcome")]
    [InlineData("from=yesterday", "from")]
    [InlineData("from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "to")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=501", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("format=xml", "format")]
    public async Task A_bad_filter_is_refused_as_a_problem_naming_it(string query, string field)
    {
        using var response = await service.Http.GetAsync($"/v1/decisions?{query}", Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    private async Task<JsonElement> SearchAsync(string query)
    {
        using var response = await service.Http.GetAsync($"/v1/decisions?{query}", Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Cancel));
        return await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
    }

    private static Api.ScreenRequest Request(string buyer, string sku)
    {
        var request = new Api.ScreenRequest
        {
            ReservationId = Guid.NewGuid().ToString(),
            BuyerId = buyer,
            EndUser = new Api.Party { Name = "Acme Cloud Pte. Ltd.", Country = "SG" },
            DestinationCountry = "CN",
        };
        request.Lines.Add(new Api.ScreenLine { Sku = sku, Quantity = 1 });
        return request;
    }
}
