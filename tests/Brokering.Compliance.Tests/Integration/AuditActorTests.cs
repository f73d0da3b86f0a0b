using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// Every compliance write records who made it from the caller's token, never from the body: clearances, rule sets,
/// licences, list entries and list refreshes. A body naming another officer as the one who cleared a match is refused.
/// </summary>
public sealed class AuditActorTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private const string Officer = "officer.jane@compliance.example";

    private static readonly string[] LicensedSkus = ["NVIDIA-H100-SXM5-80GB"];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_clearance_records_the_officer_from_the_token()
    {
        using var client = OfficerClient();

        using var response = await client.PostAsJsonAsync("/v1/restricted-parties/clearances", new
        {
            partyName = "Moore Threads Apparel Ltd.",
            reason = "Clothing retailer, unrelated to the listed GPU maker.",
        }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await BodyAsync(response)).GetProperty("clearedBy").GetString().ShouldBe(Officer);
        var all = await client.GetFromJsonAsync<JsonElement[]>("/v1/restricted-parties/clearances", Cancel);
        all!.ShouldContain(c => c.GetProperty("partyName").GetString() == "Moore Threads Apparel Ltd." && c.GetProperty("clearedBy").GetString() == Officer);
    }

    [Fact]
    public async Task A_clearance_whose_body_names_another_officer_is_refused_naming_cleared_by_and_stores_nothing()
    {
        using var client = OfficerClient();
        var party = $"Forged Clearance {Guid.NewGuid():N}";

        using var response = await client.PostAsJsonAsync("/v1/restricted-parties/clearances", new
        {
            partyName = party,
            reason = "Cleared on my colleague's authority.",
            clearedBy = "head.of.compliance@compliance.example",
        }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await BodyAsync(response)).GetProperty("errors").TryGetProperty("clearedBy", out _).ShouldBeTrue();
        var all = await client.GetFromJsonAsync<JsonElement[]>("/v1/restricted-parties/clearances", Cancel);
        all!.ShouldNotContain(c => c.GetProperty("partyName").GetString() == party);
    }

    [Fact]
    public async Task Publishing_a_rule_set_recording_a_licence_adding_a_list_entry_and_refreshing_the_list_record_the_officer()
    {
        using var client = OfficerClient();

        using var ruleSet = await client.PostAsJsonAsync("/v1/rule-sets", new
        {
            version = $"audit-{Guid.NewGuid():N}"[..20],
            effectiveAt = DateTimeOffset.UtcNow.AddYears(5),
            basedOn = "2023-10-17",
        }, Cancel);
        using var licence = await client.PostAsJsonAsync("/v1/licences", new
        {
            number = $"L{Guid.NewGuid():N}"[..12],
            buyerId = "acme-servers",
            skus = LicensedSkus,
            destinationCountry = "CN",
            quantity = 10,
            validUntil = DateTimeOffset.UtcNow.AddDays(30),
        }, Cancel);
        using var entry = await client.PostAsJsonAsync("/v1/restricted-parties", new
        {
            name = $"Audit Trail Test Entity {Guid.NewGuid():N}",
            country = "CN",
        }, Cancel);
        using var refresh = await client.PostAsJsonAsync("/v1/restricted-parties/refreshes", new { source = "test" }, Cancel);

        ruleSet.StatusCode.ShouldBe(HttpStatusCode.Created);
        licence.StatusCode.ShouldBe(HttpStatusCode.Created);
        entry.StatusCode.ShouldBe(HttpStatusCode.Created);
        refresh.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await BodyAsync(ruleSet)).GetProperty("publishedBy").GetString().ShouldBe(Officer);
        (await BodyAsync(licence)).GetProperty("recordedBy").GetString().ShouldBe(Officer);
        (await BodyAsync(entry)).GetProperty("addedBy").GetString().ShouldBe(Officer);
        (await BodyAsync(refresh)).GetProperty("refreshedBy").GetString().ShouldBe(Officer);

        // As stored, not only as answered.
        var storedRuleSet = await client.GetFromJsonAsync<JsonElement>(ruleSet.Headers.Location, Cancel);
        var storedLicence = await client.GetFromJsonAsync<JsonElement>(licence.Headers.Location, Cancel);
        var storedEntry = await client.GetFromJsonAsync<JsonElement>(entry.Headers.Location, Cancel);
        storedRuleSet.GetProperty("publishedBy").GetString().ShouldBe(Officer);
        storedLicence.GetProperty("recordedBy").GetString().ShouldBe(Officer);
        storedEntry.GetProperty("addedBy").GetString().ShouldBe(Officer);
    }

    private HttpClient OfficerClient()
    {
        var client = service.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.For(Officer, null, BrokeringRoles.ComplianceOfficer));
        return client;
    }

    private static async Task<JsonElement> BodyAsync(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
}

/// <summary>Compliance looks SKUs up by their one canonical spelling: a licence names the catalogue SKU whatever spelling it was given.</summary>
public sealed class SkuSpellingTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    // Full-width, as a CJK input method types it, padded: the shared spelling folds it to the catalogue's.
    private static readonly string[] PaddedLowerCase = [" ｎｖｉｄｉａ－ｈ１００－ｓｘｍ５－８０ｇｂ "];

    [Fact]
    public async Task A_licence_for_a_full_width_padded_sku_is_recorded_for_the_catalogue_sku()
    {
        using var response = await service.Http.PostAsJsonAsync("/v1/licences", new
        {
            number = $"L{Guid.NewGuid():N}"[..12],
            buyerId = "acme-servers",
            skus = PaddedLowerCase,
            destinationCountry = "CN",
            quantity = 10,
            validUntil = DateTimeOffset.UtcNow.AddDays(30),
        }, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        body.GetProperty("skus").EnumerateArray().Select(s => s.GetString()).ShouldBe(["NVIDIA-H100-SXM5-80GB"]);
    }
}
