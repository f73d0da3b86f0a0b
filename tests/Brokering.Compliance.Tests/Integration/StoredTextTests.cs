using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// Every text a compliance write stores is bounded and plain: a NUL (which PostgreSQL cannot store; the write used to
/// answer 500) or another control character, or a text over its bound (a citation, a source, a description used to be
/// unbounded), is a 400 naming the field, on every write endpoint. Tabs and line breaks stay allowed in free text. So is
/// a listed party's name that leaves nothing to match once normalised, more aliases than an entry may have, and a
/// listing day still to come.
/// </summary>
public sealed class StoredTextTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private static readonly string TooLong = new('x', 2_001);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, string, string> Writes => new()
    {
        // method, path, body (JSON, {0} replaced by a unique suffix), field named in the refusal
        { "POST", "/v1/restricted-parties/clearances", """{"partyName":"Party\u0000{0}","reason":"Unrelated."}""", "partyName" },
        { "POST", "/v1/restricted-parties/clearances", """{"partyName":"Party {0}","reason":"Un\u0000related."}""", "reason" },
        { "POST", "/v1/restricted-parties", """{"name":"Entity\u0000{0}","country":"CN"}""", "name" },
        { "POST", "/v1/restricted-parties", """{"name":"Entity {0}","country":"CN","aliases":["Alias\u001b{0}"]}""", "aliases[0]" },
        { "POST", "/v1/restricted-parties", """{"name":"Entity {0}","country":"CN","addresses":["Road\u0000{0}"]}""", "addresses[0]" },
        { "POST", "/v1/restricted-parties", """{"name":"Entity {0}","country":"CN","list":"Entity\u0000List"}""", "list" },
        // A listed name must leave something to match, and an entry's aliases are bounded (each is scored at every screening).
        { "POST", "/v1/restricted-parties", """{"name":"!!! ..","country":"CN"}""", "name" },
        { "POST", "/v1/restricted-parties", """{"name":"Entity {0}","country":"CN","aliases":["— / —"]}""", "aliases[0]" },
        { "POST", "/v1/restricted-parties", "{\"name\":\"Entity {0}\",\"country\":\"CN\",\"aliases\":[" + string.Join(',', Enumerable.Range(0, 101).Select(i => $"\"Alias {i}\"")) + "]}", "aliases" },
        // The day an entry was listed is one that has come, and not before export control lists as kept today began.
        { "POST", "/v1/restricted-parties", """{"name":"Entity {0}","country":"CN","listedOn":"9999-12-31"}""", "listedOn" },
        { "POST", "/v1/restricted-parties", """{"name":"Entity {0}","country":"CN","listedOn":"2099-01-01"}""", "listedOn" },
        { "POST", "/v1/restricted-parties", """{"name":"Entity {0}","country":"CN","listedOn":"0001-01-01"}""", "listedOn" },
        { "POST", "/v1/restricted-parties", """{"name":"Entity {0}","country":"CN","citation":"88 FR\u0000 123"}""", "citation" },
        { "POST", "/v1/restricted-parties", """{"name":"Entity {0}","country":"CN","citation":"{long}"}""", "citation" },
        { "POST", "/v1/restricted-parties/refreshes", """{"source":"https://example.gov/\u0000list"}""", "source" },
        { "POST", "/v1/restricted-parties/refreshes", """{"source":"{long}"}""", "source" },
        { "POST", "/v1/licences", """{"number":"L\u0000{0}","buyerId":"acme-servers","skus":["NVIDIA-H100-SXM5-80GB"],"destinationCountry":"CN","quantity":1,"validUntil":"2099-01-01T00:00:00Z"}""", "number" },
        { "POST", "/v1/licences", """{"number":"L{0}","buyerId":"acme\u0000servers","skus":["NVIDIA-H100-SXM5-80GB"],"destinationCountry":"CN","quantity":1,"validUntil":"2099-01-01T00:00:00Z"}""", "buyerId" },
        { "POST", "/v1/rule-sets", """{"version":"text-{0}","effectiveAt":"2099-01-01T00:00:00Z","basedOn":"2023-10-17","description":"Rule\u0000"}""", "description" },
        { "POST", "/v1/rule-sets", """{"version":"text-{0}","effectiveAt":"2099-01-01T00:00:00Z","basedOn":"2023-10-17","description":"{long}"}""", "description" },
        { "POST", "/v1/rule-sets", """{"version":"text-{0}","effectiveAt":"2099-01-01T00:00:00Z","basedOn":"2023-10-17","source":"BIS\u0000"}""", "source" },
        { "POST", "/v1/rule-sets", """{"version":"text-{0}","effectiveAt":"2099-01-01T00:00:00Z","destinations":{"countries":["CN"]},"criteria":[{"classification":"3A090.a","minTpp":4800,"description":"\u0000"}]}""", "criteria[0].description" },
        { "PUT", "/v1/buyers/buyer-{0}", """{"legalName":"Acme\u0000 Servers","country":"US"}""", "legalName" },
        { "POST", "/v1/reviews/00000000-0000-0000-0000-000000000001/clear", """{"reason":"False\u0000positive"}""", "reason" },
    };

    [Theory]
    [MemberData(nameof(Writes))]
    public async Task A_compliance_write_with_a_text_it_cannot_store_or_match_is_a_400_naming_the_field(string method, string path, string body, string field)
    {
        var suffix = Guid.NewGuid().ToString("N")[..12];
        using var client = OfficerClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{0}", suffix, StringComparison.Ordinal))
        {
            Content = new StringContent(body.Replace("{0}", suffix, StringComparison.Ordinal).Replace("{long}", TooLong, StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json"),
        };

        using var response = await client.SendAsync(request, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, $"{method} {path} {field}: {await response.Content.ReadAsStringAsync(Cancel)}");
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        errors.TryGetProperty(field, out _).ShouldBeTrue($"{method} {path}: {errors}");
    }

    [Fact]
    public async Task A_free_text_with_line_breaks_and_tabs_is_stored_as_written()
    {
        using var client = OfficerClient();

        using var response = await client.PostAsJsonAsync("/v1/restricted-parties/clearances", new
        {
            partyName = $"Multiline Party {Guid.NewGuid():N}",
            reason = "Clothing retailer.\n\tChecked against its registry entry.",
        }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("reason").GetString()
            .ShouldBe("Clothing retailer.\n\tChecked against its registry entry.");
    }

    [Theory]
    [InlineData("windows-1252")]
    [InlineData("\"windows-1252\"")]
    [InlineData("ISO-8859-1")]
    public async Task A_json_body_is_read_in_the_charset_its_content_type_names_quoted_or_not(string charset)
    {
        var name = $"Société Générale {Guid.NewGuid():N}";
        using var client = OfficerClient();
        using var content = new ByteArrayContent(System.Text.Encoding.Latin1.GetBytes($$"""{"partyName":"{{name}}","reason":"Bank, not a buyer."}"""));
        content.Headers.TryAddWithoutValidation("Content-Type", $"application/json; charset={charset}");

        using var response = await client.PostAsync("/v1/restricted-parties/clearances", content, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Cancel));
        (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("partyName").GetString().ShouldBe(name);
    }

    [Fact]
    public async Task A_json_body_in_a_charset_no_encoding_has_is_a_400_under_the_root_not_a_500()
    {
        using var client = OfficerClient();
        using var content = new StringContent("""{"partyName":"Party","reason":"Unrelated."}""");
        content.Headers.Remove("Content-Type");
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=bogus");

        using var response = await client.PostAsync("/v1/restricted-parties/clearances", content, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync(Cancel));
        (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors").GetProperty("$")[0].GetString()!.ShouldContain("bogus");
    }

    private HttpClient OfficerClient()
    {
        var client = service.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.For("officer.text@compliance.example", null, BrokeringRoles.ComplianceOfficer));
        return client;
    }
}
