using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Brokering.Contracts.Compliance;
using MassTransit;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Tests.Integration;

// A fixture of its own: publishing a rule set changes what every screening of that database applies.
public sealed class RuleSetPublicationTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_rule_set_that_moves_a_cutoff_earlier_publishes_CutoffChanged_for_the_products_and_destinations_it_moves()
    {
        var changes = Channel.CreateUnbounded<CutoffChanged>();
        var observer = await service.StartObserverAsync($"compliance-tests-cutoff-changed-{Guid.NewGuid():N}", endpoint =>
            endpoint.Handler<CutoffChanged>(context => changes.Writer.WriteAsync(context.Message).AsTask()));
        try
        {
            var now = DateTimeOffset.UtcNow;
            var later = Truncate(now.AddMinutes(30));
            var earlier = Truncate(now.AddMinutes(10));

            using var first = await Publish(new { version = "scenario-1", effectiveAt = later, basedOn = "2023-10-17" });
            first.StatusCode.ShouldBe(HttpStatusCode.Created);
            first.Headers.Location!.OriginalString.ShouldBe("/v1/rule-sets/scenario-1");
            var announced = await NextAsync(changes, "scenario-1");
            announced.RuleSetVersion.ShouldBe("scenario-1");
            announced.NewCutoff.ShouldBe(later);

            // Screening now applies the scenario: the race against its cutoff is on.
            var screened = await Screen("CN");
            screened.Outcome.ShouldBe(Api.ScreeningOutcome.Approved);
            screened.RuleSetVersion.ShouldBe("scenario-1");
            screened.EarliestCutoff.ToDateTimeOffset().ShouldBe(later);

            using var second = await Publish(new { version = "scenario-2", effectiveAt = earlier, basedOn = "scenario-1" });
            second.StatusCode.ShouldBe(HttpStatusCode.Created);
            var moved = await NextAsync(changes, "scenario-2");
            moved.RuleSetVersion.ShouldBe("scenario-2");
            moved.NewCutoff.ShouldBe(earlier);
            moved.Skus.ShouldContain("NVIDIA-H100-SXM5-80GB");
            moved.Skus.ShouldContain("NVIDIA-A800-SXM4-80GB");
            moved.Skus.ShouldNotContain("NVIDIA-H20");
            moved.Skus.ShouldNotContain("NVIDIA-RTX-4090D");
            moved.DestinationCountries.ShouldContain("CN");
            moved.DestinationCountries.ShouldContain("MO");
            moved.DestinationCountries.ShouldNotContain("US");
            moved.DestinationCountries.ShouldNotContain("IL");
            // Every product moved to the same cutoff for the same destinations: one event.
            (await second.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("cutoffChanges").GetArrayLength().ShouldBe(1);

            (await Screen("CN")).EarliestCutoff.ToDateTimeOffset().ShouldBe(earlier);
            var cutoff = await service.Http.GetFromJsonAsync<JsonElement>("/v1/cutoffs?sku=NVIDIA-H100-SXM5-80GB&destinationCountry=CN", Cancel);
            cutoff.GetProperty("cutoff").GetDateTimeOffset().ShouldBe(earlier);
            cutoff.GetProperty("ruleSetVersion").GetString().ShouldBe("scenario-2");

            // Historical rule sets stay in force for classification at past instants.
            using var classified = await service.Http.PostAsJsonAsync(
                "/v1/classifications", new { at = "2023-01-01T00:00:00Z", product = new { sku = "NVIDIA-H800-SXM5-80GB" } }, Cancel);
            (await classified.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("ruleSet").GetString().ShouldBe("2022-10-07");
        }
        finally
        {
            await observer.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Publishing_the_same_version_again_is_idempotent_and_different_content_under_it_is_a_conflict_naming_the_version()
    {
        var effectiveAt = Truncate(DateTimeOffset.UtcNow.AddDays(30));
        var body = new { version = "idempotent-1", effectiveAt, basedOn = "2023-10-17" };

        using var first = await Publish(body);
        using var again = await Publish(body);
        using var different = await Publish(new { version = "idempotent-1", effectiveAt = effectiveAt.AddDays(1), basedOn = "2023-10-17" });

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        different.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        different.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await different.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken))
            .GetProperty("errors").GetProperty("version").EnumerateArray().ShouldNotBeEmpty();
    }

    [Fact]
    public async Task An_invalid_rule_set_is_refused_with_field_paths()
    {
        using var response = await Publish(new
        {
            version = "bad version",
            effectiveAt = DateTimeOffset.UtcNow,
            criteria = new[] { new { classification = "3A090.z", minTpp = -1.0 } },
            destinations = new { countryGroups = new List<string> { "Q:9" }, countries = new List<string> { "CHN", "CN", "XX" } },
        });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        foreach (var field in new[] { "version", "criteria[0].classification", "criteria[0].minTpp", "destinations.countryGroups[0]", "destinations.countries[0]", "destinations.countries[2]" })
        {
            errors.TryGetProperty(field, out _).ShouldBeTrue(field);
        }
    }

    // A threshold beyond every figure a product can have controls nothing while reading as a rule.
    [Theory]
    [InlineData("""{"criteria":[{"classification":"3A090.a","minTpp":1e308}]}""", "criteria[0].minTpp")]
    [InlineData("""{"criteria":[{"classification":"3A090.a","minTpp":4800,"maxTpp":1e300}]}""", "criteria[0].maxTpp")]
    [InlineData("""{"criteria":[{"classification":"3A090.a","minPerformanceDensity":1e20}]}""", "criteria[0].minPerformanceDensity")]
    [InlineData("""{"criteria":[{"classification":"3A090.a","minTpp":4800,"minInterconnectGBps":1e10}]}""", "criteria[0].minInterconnectGBps")]
    [InlineData("""{"nonDatacenterExemptBelowTpp":1e300}""", "nonDatacenterExemptBelowTpp")]
    [InlineData("""{"accelerated":{"effectiveAt":"2029-12-01T00:00:00Z","minTpp":1e300}}""", "accelerated.minTpp")]
    public async Task A_threshold_no_product_can_reach_is_refused_under_its_path(string change, string field)
    {
        var body = System.Text.Json.Nodes.JsonNode.Parse(change)!.AsObject();
        body["version"] = $"unreachable-{Guid.NewGuid():N}"[..30];
        body["effectiveAt"] = "2030-01-01T00:00:00Z";
        body["basedOn"] = "2023-10-17";

        using var response = await service.Http.PostAsync("/v1/rule-sets", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"), Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        errors.EnumerateObject().Select(error => error.Name).ShouldBe([field]);
    }

    [Theory]
    [InlineData("/v1/rule-sets", """{"version":"no-offset-1","effectiveAt":"2030-01-01T00:00:00","basedOn":"2023-10-17"}""", "effectiveAt", "Z or an offset")]
    [InlineData("/v1/rule-sets", """{"version":"no-offset-2","effectiveAt":"2030-01-01T00:00:00Z","basedOn":"2023-10-17","accelerated":{"effectiveAt":"2029-12-01T08:00"}}""", "accelerated.effectiveAt", "Z or an offset")]
    [InlineData("/v1/rule-sets", """{"version":"no-offset-3","effectiveAt":"2030-01-01","basedOn":"2023-10-17"}""", "effectiveAt", "Z or an offset")]
    [InlineData("/v1/rule-sets", """{"version":"no-offset-4","effectiveAt":1893456000,"basedOn":"2023-10-17"}""", "effectiveAt", "Z or an offset")]
    [InlineData("/v1/classifications", """{"at":"2023-11-17T00:00:00","product":{"sku":"NVIDIA-H800-SXM5-80GB"}}""", "at", "Z or an offset")]
    [InlineData("/v1/rule-sets", """{"version":"far-future","effectiveAt":"2923-10-17T00:00:00Z","basedOn":"2023-10-17"}""", "effectiveAt", "typo")]
    [InlineData("/v1/rule-sets", """{"version":"far-past","effectiveAt":"0203-10-17T00:00:00Z","basedOn":"2023-10-17"}""", "effectiveAt", "typo")]
    [InlineData("/v1/licences", """{"number":"L-9999","buyerId":"acme-servers","skus":["NVIDIA-H100-SXM5-80GB"],"destinationCountry":"CN","quantity":1,"validUntil":"9999-12-31T23:59:59Z"}""", "validUntil", "typo")]
    public async Task An_instant_without_an_offset_or_past_any_plausible_year_is_refused_by_its_field_and_nothing_is_published(string path, string body, string field, string reason)
    {
        using var response = await service.Http.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"), Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        errors.GetProperty(field)[0].GetString()!.ShouldContain(reason);
        if (path == "/v1/rule-sets")
        {
            var version = JsonDocument.Parse(body).RootElement.GetProperty("version").GetString();
            using var published = await service.Http.GetAsync($"/v1/rule-sets/{version}", Cancel);
            published.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        }
    }

    [Fact]
    public async Task An_effective_instant_given_with_an_offset_is_that_instant_whatever_the_servers_time_zone()
    {
        // Midnight in Beijing is 16:00 UTC the day before; nothing about where the services run may move it.
        using var response = await Publish(new { version = "offset-beijing", effectiveAt = "2031-01-01T00:00:00+08:00", basedOn = "2023-10-17" });

        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        var published = await service.Http.GetFromJsonAsync<JsonElement>("/v1/rule-sets/offset-beijing", Cancel);
        published.GetProperty("effectiveAt").GetDateTimeOffset().ShouldBe(new DateTimeOffset(2030, 12, 31, 16, 0, 0, TimeSpan.Zero));
    }

    private async Task<HttpResponseMessage> Publish(object body) => await service.Http.PostAsJsonAsync("/v1/rule-sets", body, Cancel);

    private async Task<Api.ScreenResponse> Screen(string destination) => (await service.ScreenH100Async(destination)).Answer;

    // Events of other tests' publications (relayed by the outbox a moment later) are skipped.
    private static async Task<CutoffChanged> NextAsync(Channel<CutoffChanged> changes, string ruleSetVersion)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            var change = await changes.Reader.ReadAsync(timeout.Token);
            if (change.RuleSetVersion == ruleSetVersion)
            {
                return change;
            }
        }
    }

    // PostgreSQL keeps microseconds; JSON round trips must compare equal.
    private static DateTimeOffset Truncate(DateTimeOffset value) => new(value.Ticks - value.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
}
