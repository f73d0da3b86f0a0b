using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// Through the service as ordering and officers reach it (gRPC <c>Screen</c>, REST <c>/v1/restricted-parties/matches</c>)
/// on real PostgreSQL with the seeded list: every seeded name, spelled in every kind of evasion, is denied; Cyrillic and
/// Greek spellings are denied; ordinary names in any script are approved.
/// </summary>
public sealed class ScreeningEvasionApiTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private const string H20 = "NVIDIA-H20";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, string> Evasions => EvasionVariants.All();

    [Theory]
    [MemberData(nameof(Evasions))]
    public async Task A_listed_end_user_spelled_to_evade_is_denied_over_grpc_with_the_entry_in_the_evidence(string variant, string kind, string entry)
    {
        var response = await service.Grpc.ScreenAsync(Request(variant), cancellationToken: Cancel);

        response.Outcome.ShouldBe(Api.ScreeningOutcome.Denied, kind);
        response.Matches.ShouldContain(match => match.EntryName == entry && !match.Cleared, kind);
    }

    [Theory]
    [InlineData("Инспур", "Inspur Group Co., Ltd.")]
    [InlineData("ООО «Инспур Груп»", "Inspur Group Co., Ltd.")]
    [InlineData("Лоонгсон", "Loongson Technology Corporation Limited")]
    [InlineData("Шанхай Бирен", "Shanghai Biren Intelligent Technology Co., Ltd.")]
    [InlineData("Мооре Тхреадс", "Moore Threads Intelligent Technology (Beijing) Co., Ltd.")]
    [InlineData("Ινσπουρ", "Inspur Group Co., Ltd.")]
    [InlineData("Λοονγκσον", "Loongson Technology Corporation Limited")]
    [InlineData("Μπιρεν", "Shanghai Biren Intelligent Technology Co., Ltd.")]
    [InlineData("Μοορε Θρεαδς", "Moore Threads Intelligent Technology (Beijing) Co., Ltd.")]
    public async Task A_listed_end_user_written_in_Cyrillic_or_Greek_is_denied_over_grpc(string endUser, string entry)
    {
        var response = await service.Grpc.ScreenAsync(Request(endUser), cancellationToken: Cancel);

        response.Outcome.ShouldBe(Api.ScreeningOutcome.Denied);
        response.Matches.ShouldContain(match => match.EntryName == entry);
    }

    [Theory]
    [InlineData("Inspire Group Co., Ltd.")]
    [InlineData("Insp\u0456re Gr\u043Eup")]
    [InlineData("Moore Industries Inc.")]
    [InlineData("\u0412irch Technology")]
    [InlineData("360 Security Technology Inc.")]
    [InlineData("Сбербанк")]
    [InlineData("ПАО «Ростелеком»")]
    [InlineData("Ολυμπιακή Αεροπορία")]
    [InlineData("Արմենտել")]
    [InlineData("InspireGroupCo.,Ltd.")]
    [InlineData("Inspurational Holdings")]
    public async Task An_ordinary_end_user_in_any_script_is_approved_over_grpc(string endUser)
    {
        var response = await service.Grpc.ScreenAsync(Request(endUser), cancellationToken: Cancel);

        response.Outcome.ShouldBe(Api.ScreeningOutcome.Approved, string.Join("; ", response.Reasons));
        response.Matches.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("Inspur Cloud Servers Supply Chain Holding Partners", Api.ScreeningOutcome.PotentialMatch)]
    [InlineData("Biren Robotics", Api.ScreeningOutcome.PotentialMatch)]
    [InlineData("Loongson Zhongke Tianjin Partners", Api.ScreeningOutcome.Denied)]
    public async Task A_listed_end_user_padded_with_other_words_waits_for_an_officer_or_is_denied_over_grpc(string endUser, Api.ScreeningOutcome outcome)
    {
        var response = await service.Grpc.ScreenAsync(Request(endUser), cancellationToken: Cancel);

        response.Outcome.ShouldBe(outcome, string.Join("; ", response.Reasons));
    }

    [Theory]
    [InlineData("In\u0455pur Gr\u03BFup")]
    [InlineData("Инспур")]
    [InlineData("\uFF2C\uFF4F\uFF4F\uFF4E\uFF47\uFF53\uFF4F\uFF4E")]
    [InlineData("InspurGroup")]
    [InlineData("Inspur\u3164Group")]
    [InlineData("Inspur\u2062Group")]
    public async Task An_officer_checking_an_evasive_spelling_over_rest_sees_it_match_the_entry(string name)
    {
        using var response = await service.Http.GetAsync(
            new Uri($"/v1/restricted-parties/matches?name={Uri.EscapeDataString(name)}", UriKind.Relative), Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var best = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("candidates")[0];
        best.GetProperty("matches").GetBoolean().ShouldBeTrue();
        best.GetProperty("score").GetDouble().ShouldBeGreaterThanOrEqualTo(0.85);
    }

    [Fact]
    public async Task An_officer_checking_a_name_sees_whether_it_mixes_scripts_and_how_it_was_read()
    {
        using var response = await service.Http.GetAsync(
            new Uri($"/v1/restricted-parties/matches?name={Uri.EscapeDataString("L\u043E\u043Engson")}", UriKind.Relative), Cancel);

        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        body.GetProperty("mixesScripts").GetBoolean().ShouldBeTrue();
        body.GetProperty("readings").EnumerateArray().Select(reading => reading.GetString()).ShouldContain("loongson");
    }

    [Fact]
    public async Task A_denial_tells_the_calling_service_no_score_or_entry_and_the_officer_reads_both_under_the_decision()
    {
        var request = Request("Inѕpur Group");

        var response = await service.Grpc.ScreenAsync(request, cancellationToken: Cancel);

        response.Outcome.ShouldBe(Api.ScreeningOutcome.Denied);
        var reasons = string.Join("\n", response.Reasons.Concat(response.Lines.SelectMany(line => line.Reasons)));
        reasons.ShouldContain($"under decision {response.DecisionId}");
        reasons.ShouldNotContain("score");
        reasons.ShouldNotContain("Inspur");
        reasons.ShouldNotContain("0.85");
        using var decisions = await service.Http.GetAsync(new Uri($"/v1/decisions/{request.ReservationId}", UriKind.Relative), Cancel);
        var evidence = (await decisions.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("decisions")[0].GetProperty("evidence");
        var match = evidence.GetProperty("matches")[0];
        match.GetProperty("entryName").GetString().ShouldBe("Inspur Group Co., Ltd.");
        match.GetProperty("score").GetDouble().ShouldBeGreaterThanOrEqualTo(0.85);
        evidence.GetProperty("reasons").EnumerateArray().ShouldContain(reason => reason.GetString()!.Contains("score", StringComparison.Ordinal));
    }

    // Buyers were never admitted; operators were, and an operator's view of scores is one more place they leak from.
    [Fact]
    public async Task An_operator_may_not_score_a_name_or_read_a_decision_s_evidence()
    {
        using var client = service.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Bearer", Brokering.Testing.TestTokens.For("operator", null, Brokering.ServiceDefaults.Security.BrokeringRoles.Ops));

        using var matches = await client.GetAsync(new Uri("/v1/restricted-parties/matches?name=Inspur", UriKind.Relative), Cancel);
        using var decisions = await client.GetAsync(new Uri($"/v1/decisions/{Guid.NewGuid()}", UriKind.Relative), Cancel);

        matches.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        decisions.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await matches.Content.ReadAsStringAsync(Cancel)).ShouldNotContain("score");
    }

    private static Api.ScreenRequest Request(string endUser)
    {
        var request = new Api.ScreenRequest
        {
            ReservationId = Guid.NewGuid().ToString(),
            BuyerId = "buyer-evasion",
            EndUser = new Api.Party { Name = endUser, Country = "SG" },
            DestinationCountry = "US",
        };
        request.Lines.Add(new Api.ScreenLine { Sku = H20, Quantity = 1 });
        return request;
    }
}
