using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Brokering.Compliance.Data;
using Brokering.Contracts.Compliance;
using Google.Rpc;
using Grpc.Core;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Tests.Integration;

public sealed class ComplianceApiTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private const string H100 = "NVIDIA-H100-SXM5-80GB";
    private const string H20 = "NVIDIA-H20";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("2023-01-01T00:00:00Z", "none", "2022-10-07")]
    [InlineData("2024-01-01T00:00:00Z", "3A090.a", "2023-10-17")]
    public async Task Classifying_a_catalogue_sku_over_rest_applies_the_rule_set_in_force_at_the_instant(string at, string expected, string ruleSet)
    {
        using var response = await service.Http.PostAsJsonAsync(
            "/v1/classifications", new { at, product = new { sku = "NVIDIA-A800-SXM4-80GB" } }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        body.GetProperty("classification").GetString().ShouldBe(expected);
        body.GetProperty("ruleSet").GetString().ShouldBe(ruleSet);
        body.GetProperty("tpp").GetDouble().ShouldBe(4992);
        body.GetProperty("performanceDensity").GetDouble().ShouldBe(4992 / 826.0, 1e-9);
        body.GetProperty("reasons").GetArrayLength().ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Classifying_explicit_specs_over_rest_uses_those_specs()
    {
        using var response = await service.Http.PostAsJsonAsync("/v1/classifications", new
        {
            at = "2024-06-01T00:00:00Z",
            product = new { denseTeraOpsByBitLength = new Dictionary<string, double> { ["8"] = 1979, ["16"] = 989.5 }, dieAreaMm2 = 814, interconnectGBps = 400, datacenter = true },
        }, Cancel);

        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        body.GetProperty("classification").GetString().ShouldBe("3A090.a");
        body.GetProperty("tpp").GetDouble().ShouldBe(15832);
    }

    [Fact]
    public async Task An_invalid_classification_request_is_a_validation_problem_with_field_paths()
    {
        using var response = await service.Http.PostAsJsonAsync("/v1/classifications", new
        {
            product = new { denseTeraOpsByBitLength = new Dictionary<string, double> { ["fp8"] = 1979 }, dieAreaMm2 = 814 },
        }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        problem.GetProperty("errors").TryGetProperty("product.denseTeraOpsByBitLength.fp8", out _).ShouldBeTrue();

        using var unknown = await service.Http.PostAsJsonAsync("/v1/classifications", new { product = new { sku = "ACME-9000" } }, Cancel);
        var unknownProblem = await unknown.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        unknownProblem.GetProperty("errors").TryGetProperty("product.sku", out _).ShouldBeTrue();
    }

    // Each figure at the edge of what a product can have; beyond it, derived figures overflowed a double (TOPS 1e308 ×
    // 8 bits, or any TPP ÷ a die area of 1e-300), and the answer, which cannot carry an infinity, was a 500.
    [Theory]
    [InlineData("""{"8":1e308}""", 814, 400, "product.denseTeraOpsByBitLength.8")]
    [InlineData("""{"8":1000000001}""", 814, 400, "product.denseTeraOpsByBitLength.8")]
    [InlineData("""{"257":1}""", 814, 400, "product.denseTeraOpsByBitLength.257")]
    [InlineData("""{"8":1979}""", 1e-300, 400, "product.dieAreaMm2")]
    [InlineData("""{"8":1979}""", 0.009, 400, "product.dieAreaMm2")]
    [InlineData("""{"8":1979}""", 1e7, 400, "product.dieAreaMm2")]
    [InlineData("""{"8":1979}""", 814, 1e308, "product.interconnectGBps")]
    public async Task Specs_beyond_what_a_product_can_have_are_refused_under_the_figure(string teraOps, double dieArea, double interconnect, string field)
    {
        using var response = await service.Http.PostAsync("/v1/classifications", new StringContent(
            FormattableString.Invariant($$$"""{"product":{"denseTeraOpsByBitLength":{{{teraOps}}},"dieAreaMm2":{{{dieArea:R}}},"interconnectGBps":{{{interconnect:R}}},"datacenter":true}}"""),
            System.Text.Encoding.UTF8, "application/json"), Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        errors.EnumerateObject().Select(error => error.Name).ShouldBe([field]);
    }

    [Fact]
    public async Task The_largest_specs_a_product_can_have_are_classified_with_finite_figures()
    {
        using var response = await service.Http.PostAsJsonAsync("/v1/classifications", new
        {
            product = new { denseTeraOpsByBitLength = new Dictionary<string, double> { ["256"] = 1_000_000_000 }, dieAreaMm2 = 0.01, interconnectGBps = 1_000_000_000, datacenter = true },
        }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        body.GetProperty("tpp").GetDouble().ShouldBe(256_000_000_000);
        body.GetProperty("performanceDensity").GetDouble().ShouldBe(25_600_000_000_000, tolerance: 1);
        body.GetProperty("classification").GetString().ShouldBe("3A090.a");
    }

    [Fact]
    public async Task Screening_over_grpc_files_a_decision_with_its_evidence_under_the_reservation()
    {
        var reservationId = Guid.NewGuid().ToString();

        var response = await service.Grpc.ScreenAsync(Request(reservationId, "CN", (H100, 10), (H20, 5)), cancellationToken: Cancel);

        response.Outcome.ShouldBe(Api.ScreeningOutcome.LicenceRequired);
        response.RuleSetVersion.ShouldBe("2023-10-17");
        response.ListVersion.ShouldStartWith("v");
        response.Lines[0].Outcome.ShouldBe(Api.ScreeningOutcome.LicenceRequired);
        response.Lines[0].Cutoff.ToDateTimeOffset().ShouldBe(new DateTimeOffset(2023, 10, 23, 4, 0, 0, TimeSpan.Zero));
        response.Lines[0].Classification.ShouldBe("3A090.a");
        response.Lines[0].Tpp.ShouldBe(15832);
        response.Lines[1].Outcome.ShouldBe(Api.ScreeningOutcome.Approved);
        response.Lines[1].Cutoff.ShouldBeNull();

        using var decisions = await service.Http.GetAsync($"/v1/decisions/{reservationId}", Cancel);
        decisions.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await decisions.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        var decision = body.GetProperty("decisions").EnumerateArray().ShouldHaveSingleItem();
        decision.GetProperty("id").GetString().ShouldBe(response.DecisionId);
        decision.GetProperty("outcome").GetString().ShouldBe("LicenceRequired");
        decision.GetProperty("ruleSetVersion").GetString().ShouldBe("2023-10-17");
        decision.GetProperty("listVersion").GetString().ShouldBe(response.ListVersion);
        var evidence = decision.GetProperty("evidence");
        evidence.GetProperty("inputs").GetProperty("destinationCountry").GetString().ShouldBe("CN");
        evidence.GetProperty("lines")[0].GetProperty("specs").GetProperty("interconnectGBps").GetDouble().ShouldBe(900);
        evidence.GetProperty("list").GetProperty("threshold").GetDouble().ShouldBe(0.85);
    }

    [Fact]
    public async Task Screening_over_grpc_assesses_the_end_user_s_country_when_it_is_stricter_than_the_destination()
    {
        var request = Request(Guid.NewGuid().ToString(), "US", (H100, 10));
        request.EndUser = new Api.Party { Name = "Acme Cloud Pte. Ltd.", Country = "CN" };

        var response = await service.Grpc.ScreenAsync(request, cancellationToken: Cancel);

        response.Outcome.ShouldBe(Api.ScreeningOutcome.LicenceRequired);
        response.Lines[0].Reasons.ShouldContain(reason => reason.Contains("the end user is in CN", StringComparison.Ordinal));
        var licensed = await service.RecordLicenceAsync(H100, "CN", 100);
        var covered = Request(Guid.NewGuid().ToString(), "US", (H100, 10));
        covered.BuyerId = licensed.BuyerId;
        covered.EndUser = new Api.Party { Name = "Acme Cloud Pte. Ltd.", Country = "CN" };
        (await service.Grpc.ScreenAsync(covered, cancellationToken: Cancel)).Outcome.ShouldBe(Api.ScreeningOutcome.Approved);
    }

    [Fact]
    public async Task A_reservation_without_decisions_is_not_found()
    {
        using var response = await service.Http.GetAsync($"/v1/decisions/{Guid.NewGuid()}", Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }

    [Fact]
    public async Task Decisions_are_never_changed_or_deleted()
    {
        var reservationId = Guid.NewGuid().ToString();
        await service.Grpc.ScreenAsync(Request(reservationId, "US", (H20, 1)), cancellationToken: Cancel);

        await using var connection = new NpgsqlConnection(service.DatabaseConnectionString);
        await connection.OpenAsync(Cancel);
        await using var update = new NpgsqlCommand("UPDATE screening_decisions SET outcome = 'Approved' WHERE reservation_id = @id", connection);
        update.Parameters.AddWithValue("id", reservationId);
        var refused = await Should.ThrowAsync<PostgresException>(() => update.ExecuteNonQueryAsync(Cancel));
        refused.MessageText.ShouldContain("never changed");
        await using var delete = new NpgsqlCommand("DELETE FROM screening_decisions WHERE reservation_id = @id", connection);
        delete.Parameters.AddWithValue("id", reservationId);
        await Should.ThrowAsync<PostgresException>(() => delete.ExecuteNonQueryAsync(Cancel));
    }

    [Fact]
    public async Task A_listed_end_user_is_denied_and_the_match_is_reported()
    {
        var request = Request(Guid.NewGuid().ToString(), "US", (H20, 1));
        request.EndUser = new Api.Party { Name = "INSPUR GROUP CO., LTD.", Country = "CN" };

        var response = await service.Grpc.ScreenAsync(request, cancellationToken: Cancel);

        response.Outcome.ShouldBe(Api.ScreeningOutcome.Denied);
        var match = response.Matches.ShouldHaveSingleItem();
        match.Role.ShouldBe("end_user");
        match.EntryName.ShouldBe("Inspur Group Co., Ltd.");
        match.Score.ShouldBeGreaterThanOrEqualTo(match.Threshold);
        match.Cleared.ShouldBeFalse();
    }

    [Theory]
    [InlineData("In\u0455pur Group Co., Ltd.")]           // one Cyrillic letter
    [InlineData("\u0399NSPUR GROUP")]                     // a Greek capital iota
    [InlineData("\uFF29\uFF4E\uFF53\uFF50\uFF55\uFF52")] // fullwidth
    [InlineData("Ins\u200Bpur\u200D Group")]              // zero-width characters
    public async Task A_listed_end_user_spelled_with_look_alike_or_invisible_characters_is_denied_all_the_same(string endUser)
    {
        var request = Request(Guid.NewGuid().ToString(), "US", (H20, 1));
        request.EndUser = new Api.Party { Name = endUser, Country = "CN" };

        var response = await service.Grpc.ScreenAsync(request, cancellationToken: Cancel);

        response.Outcome.ShouldBe(Api.ScreeningOutcome.Denied);
        response.Matches.ShouldHaveSingleItem().EntryName.ShouldBe("Inspur Group Co., Ltd.");
        using var check = await service.Http.GetAsync(
            new Uri($"/v1/restricted-parties/matches?name={Uri.EscapeDataString(endUser)}", UriKind.Relative), Cancel);
        check.StatusCode.ShouldBe(System.Net.HttpStatusCode.OK, await check.Content.ReadAsStringAsync(Cancel));
        (await check.Content.ReadAsStringAsync(Cancel)).ShouldContain("Inspur Group Co., Ltd.");
    }

    [Fact]
    public async Task A_clearance_recorded_over_rest_is_honoured_by_the_next_screening()
    {
        const string apparel = "Moore Threads Apparel Ltd.";
        var first = Request(Guid.NewGuid().ToString(), "US", (H20, 1));
        first.EndUser = new Api.Party { Name = apparel, Country = "US" };
        (await service.Grpc.ScreenAsync(first, cancellationToken: Cancel)).Outcome.ShouldBe(Api.ScreeningOutcome.Denied);

        using var cleared = await service.Http.PostAsJsonAsync("/v1/restricted-parties/clearances", new
        {
            partyName = "MOORE THREADS APPAREL LIMITED",
            reason = "Clothing retailer in Ohio, unrelated to the listed GPU maker (checked 2026-11-29).",
        }, Cancel);
        cleared.StatusCode.ShouldBe(HttpStatusCode.Created);

        var second = Request(Guid.NewGuid().ToString(), "US", (H20, 1));
        second.EndUser = new Api.Party { Name = apparel, Country = "US" };
        var response = await service.Grpc.ScreenAsync(second, cancellationToken: Cancel);
        response.Outcome.ShouldBe(Api.ScreeningOutcome.Approved);
        var match = response.Matches.ShouldHaveSingleItem();
        match.Cleared.ShouldBeTrue();
        match.ClearanceReason.ShouldStartWith("Clothing retailer");
    }

    [Fact]
    public async Task A_clearance_without_a_reason_is_refused()
    {
        using var response = await service.Http.PostAsJsonAsync(
            "/v1/restricted-parties/clearances", new { partyName = "Someone", clearedBy = "officer" }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        problem.GetProperty("errors").TryGetProperty("reason", out _).ShouldBeTrue();
    }

    // "!!!" was cleared under the canonical name "", and a clearance of legal forms or descriptive words alone would clear
    // any shell of a name that reads so.
    [Theory]
    [InlineData("!!!")]
    [InlineData("\u200B\u200B")]
    [InlineData("Co., Ltd.")]
    [InlineData("Group Holdings Limited")]
    [InlineData("Shanghai Technology Co., Ltd.")]
    public async Task A_clearance_of_a_name_without_a_distinctive_word_is_refused_under_partyName(string partyName)
    {
        using var response = await service.Http.PostAsJsonAsync(
            "/v1/restricted-parties/clearances", new { partyName, reason = "probe" }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync(Cancel));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        problem.GetProperty("errors").TryGetProperty("partyName", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_licence_on_file_approves_reservations_until_its_units_are_spent()
    {
        var (buyer, licenceUrl) = await service.RecordLicenceAsync(H100, "CN", units: 100);

        var first = await service.Grpc.ScreenAsync(Request(Guid.NewGuid().ToString(), "CN", (H100, 60)), cancellationToken: Cancel);
        first.Outcome.ShouldBe(Api.ScreeningOutcome.LicenceRequired); // another buyer: the licence is not theirs

        var mine = Request(Guid.NewGuid().ToString(), "CN", (H100, 60));
        mine.BuyerId = buyer;
        var approved = await service.Grpc.ScreenAsync(mine, cancellationToken: Cancel);
        approved.Outcome.ShouldBe(Api.ScreeningOutcome.Approved);
        approved.Lines[0].LicenceNumber.ShouldNotBeNullOrEmpty();

        // Screening the same reservation again reuses its units rather than spending more.
        (await service.Grpc.ScreenAsync(mine, cancellationToken: Cancel)).Outcome.ShouldBe(Api.ScreeningOutcome.Approved);

        var more = Request(Guid.NewGuid().ToString(), "CN", (H100, 60));
        more.BuyerId = buyer;
        var over = await service.Grpc.ScreenAsync(more, cancellationToken: Cancel);
        over.Outcome.ShouldBe(Api.ScreeningOutcome.LicenceRequired);
        over.Lines[0].Reasons.ShouldContain(reason => reason.Contains("40 units left", StringComparison.Ordinal));

        var licence = await service.Http.GetFromJsonAsync<JsonElement>(licenceUrl, Cancel);
        licence.GetProperty("drawn").GetInt64().ShouldBe(60);
        licence.GetProperty("remaining").GetInt64().ShouldBe(40);
    }

    [Fact]
    public async Task List_catalogue_over_grpc_lists_every_catalogue_SKU_in_ordinal_order()
    {
        var listed = await service.Grpc.ListCatalogueAsync(new Api.ListCatalogueRequest(), cancellationToken: Cancel);
        var products = await service.Http.GetFromJsonAsync<JsonElement>("/v1/products", Cancel);

        listed.Skus.ShouldBe([.. products.EnumerateArray().Select(product => product.GetProperty("sku").GetString()!).Order(StringComparer.Ordinal)]);
        listed.Skus.ShouldContain("NVIDIA-H100-SXM5-80GB");
    }

    [Fact]
    public async Task Get_cutoff_over_grpc_answers_from_the_current_rule_set_and_names_unknown_products()
    {
        var cutoff = await service.Grpc.GetCutoffAsync(new Api.GetCutoffRequest { Sku = "NVIDIA-RTX-4090", DestinationCountry = "CN" }, cancellationToken: Cancel);
        cutoff.Cutoff.ToDateTimeOffset().ShouldBe(new DateTimeOffset(2023, 11, 17, 5, 0, 0, TimeSpan.Zero));
        cutoff.RuleSetVersion.ShouldBe("2023-10-17");

        var unknown = await Should.ThrowAsync<RpcException>(async () =>
            await service.Grpc.GetCutoffAsync(new Api.GetCutoffRequest { Sku = "ACME-9000", DestinationCountry = "CN" }, cancellationToken: Cancel));
        unknown.StatusCode.ShouldBe(StatusCode.NotFound);
        unknown.GetRpcStatus()!.GetDetail<ResourceInfo>().ResourceName.ShouldBe("ACME-9000");
    }

    [Fact]
    public async Task Classify_over_grpc_rejects_unclassifiable_specs_with_the_field_at_fault()
    {
        var request = new Api.ClassifyRequest { Specs = new Api.ProductSpecs { DieAreaMm2 = 0, InterconnectGbps = 10 } };
        request.Specs.DenseTeraOpsByBitLength[8] = 100;

        var refused = await Should.ThrowAsync<RpcException>(async () => await service.Grpc.ClassifyAsync(request, cancellationToken: Cancel));

        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refused.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.ShouldHaveSingleItem().Field.ShouldBe("specs.dieAreaMm2");

        var bySku = await service.Grpc.ClassifyAsync(new Api.ClassifyRequest { Sku = "NVIDIA-H800-SXM5-80GB" }, cancellationToken: Cancel);
        bySku.Classification.ShouldBe("3A090.a");
    }

    [Theory]
    [InlineData(1e308, 814, 10, "specs.denseTeraOpsByBitLength.8")]
    [InlineData(100, 1e-300, 10, "specs.dieAreaMm2")]
    [InlineData(100, 814, double.PositiveInfinity, "specs.interconnectGBps")]
    public async Task Classify_over_grpc_refuses_figures_beyond_what_a_product_can_have(double teraOps, double dieArea, double interconnect, string field)
    {
        var request = new Api.ClassifyRequest { Specs = new Api.ProductSpecs { DieAreaMm2 = dieArea, InterconnectGbps = interconnect } };
        request.Specs.DenseTeraOpsByBitLength[8] = teraOps;

        var refused = await Should.ThrowAsync<RpcException>(async () => await service.Grpc.ClassifyAsync(request, cancellationToken: Cancel));

        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refused.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.ShouldHaveSingleItem().Field.ShouldBe(field);
    }

    [Theory]
    [InlineData(long.MaxValue, 0)]
    [InlineData(1_700_000_000, 1_000_000_000)]
    [InlineData(-62_135_596_801, 0)]
    public async Task A_timestamp_no_clock_reads_is_refused_under_its_field(long seconds, int nanos)
    {
        var request = new Api.ClassifyRequest { Sku = "NVIDIA-H800-SXM5-80GB", At = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = seconds, Nanos = nanos } };

        var refused = await Should.ThrowAsync<RpcException>(async () => await service.Grpc.ClassifyAsync(request, cancellationToken: Cancel));

        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refused.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.ShouldHaveSingleItem().Field.ShouldBe("at");
    }

    [Fact]
    public async Task Adding_a_restricted_party_publishes_PartyListed_and_denies_that_party_at_once()
    {
        var listed = Channel.CreateUnbounded<PartyListed>();
        var observer = await service.StartObserverAsync($"compliance-tests-party-listed-{Guid.NewGuid():N}", endpoint =>
            endpoint.Handler<PartyListed>(context => listed.Writer.WriteAsync(context.Message).AsTask()));
        try
        {
            using var added = await service.Http.PostAsJsonAsync("/v1/restricted-parties", new
            {
                name = "Zhongke Quantum Compute Co., Ltd.",
                aliases = new List<string> { "ZQC" },
                addresses = new List<string> { "Hefei, Anhui, China" },
                country = "CN",
                listedOn = "2026-11-01",
            }, Cancel);
            added.StatusCode.ShouldBe(HttpStatusCode.Created);

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var message = await listed.Reader.ReadAsync(timeout.Token);
            message.Name.ShouldBe("Zhongke Quantum Compute Co., Ltd.");
            message.Aliases.ShouldBe(["ZQC"]);
            message.ListVersion.ShouldStartWith("v");

            var request = Request(Guid.NewGuid().ToString(), "US", (H20, 1));
            request.EndUser = new Api.Party { Name = "ZHONGKE QUANTUM COMPUTE LIMITED", Country = "CN" };
            var response = await service.Grpc.ScreenAsync(request, cancellationToken: Cancel);
            response.Outcome.ShouldBe(Api.ScreeningOutcome.Denied);
            response.ListVersion.ShouldBe(message.ListVersion);
        }
        finally
        {
            await observer.StopAsync(CancellationToken.None);
        }
    }

    // One party added under "Entity List", "entity list" and "Entity  List" was three entries: the duplicate check read three lists.
    [Fact]
    public async Task A_party_already_on_a_list_is_a_conflict_under_any_spelling_of_the_list_and_is_stored_under_its_spelling()
    {
        var name = $"Quokka Vector {Guid.NewGuid():N} Co., Ltd.";
        Task<HttpResponseMessage> AddAsync(string list, string party) =>
            service.Http.PostAsJsonAsync("/v1/restricted-parties", new { name = party, country = "CN", list }, Cancel);

        using var first = await AddAsync("  entity   LIST ", name);
        var again = new List<HttpStatusCode>();
        foreach (var list in new[] { "Entity List", "entity list", "Entity  List", "\uFF25ntity List" })
        {
            using var response = await AddAsync(list, name);
            again.Add(response.StatusCode);
        }

        using var newList = await AddAsync("  Military   End User  List ", $"Wombat Matrix {Guid.NewGuid():N}");

        first.StatusCode.ShouldBe(HttpStatusCode.Created, await first.Content.ReadAsStringAsync(Cancel));
        (await first.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("list").GetString().ShouldBe("Entity List");
        again.ShouldAllBe(status => status == HttpStatusCode.Conflict);
        (await newList.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("list").GetString().ShouldBe("Military End User List");
    }

    [Fact]
    public async Task Seeding_again_adds_nothing_even_from_two_replicas_at_once()
    {
        async Task<string> SeedAsync()
        {
            await using var scope = service.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ComplianceDbContext>();
            return await ComplianceSeeder.SeedAsync(db, DateTimeOffset.UtcNow, demoList: true, Cancel);
        }

        var results = await Task.WhenAll(SeedAsync(), SeedAsync());

        results.ShouldAllBe(summary => summary.EndsWith("0 rule set(s) and 0 demo list entr(ies) added", StringComparison.Ordinal));
        await using var check = service.Services.CreateAsyncScope();
        var context = check.ServiceProvider.GetRequiredService<ComplianceDbContext>();
        (await context.RuleSets.CountAsync(Cancel)).ShouldBeGreaterThanOrEqualTo(2);
        (await context.Products.CountAsync(Cancel)).ShouldBe(10);
    }

    private static Api.ScreenRequest Request(string reservationId, string destination, params (string Sku, long Quantity)[] lines)
    {
        var request = new Api.ScreenRequest
        {
            ReservationId = reservationId,
            BuyerId = "buyer-1",
            EndUser = new Api.Party { Name = "Acme Cloud Pte. Ltd.", Country = "SG" },
            DestinationCountry = destination,
        };
        request.Lines.AddRange(lines.Select(line => new Api.ScreenLine { Sku = line.Sku, Quantity = line.Quantity }));
        return request;
    }
}
