using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// The buyer registry through compliance's public APIs on real PostgreSQL: an officer registers a buyer organisation
/// over REST, and the screening ordering asks for over gRPC (which names only the buyer's id) then covers the buyer, its
/// ultimate parent and the parent-headquarters rule.
/// </summary>
public sealed class BuyerRegistryApiTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private const string H100 = "NVIDIA-H100-SXM5-80GB";
    private const string H20 = "NVIDIA-H20";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_buyer_registered_under_a_listed_name_is_denied_whoever_its_end_user_is()
    {
        var buyer = NewBuyer();
        (await ScreenAsync(buyer, H20, "US")).Outcome.ShouldBe(Api.ScreeningOutcome.Approved);

        await RegisterAsync(buyer, new { legalName = "In\u0455pur Group (Hong Kong) Co., Ltd.", country = "HK" });
        var response = await ScreenAsync(buyer, H20, "US");

        response.Outcome.ShouldBe(Api.ScreeningOutcome.Denied);
        var match = response.Matches.ShouldHaveSingleItem();
        match.Role.ShouldBe("buyer");
        match.EntryName.ShouldBe("Inspur Group Co., Ltd.");
    }

    [Fact]
    public async Task A_buyer_whose_registered_ultimate_parent_is_listed_is_denied()
    {
        var buyer = NewBuyer();
        await RegisterAsync(buyer, new
        {
            legalName = "Lion City Compute Pte. Ltd.", country = "SG",
            ultimateParent = new { name = "Moore Threads Technology Co., Ltd.", headquartersCountry = "CN" },
        });

        var response = await ScreenAsync(buyer, H20, "US");

        response.Outcome.ShouldBe(Api.ScreeningOutcome.Denied);
        response.Matches.ShouldHaveSingleItem().Role.ShouldBe("buyer_parent");
    }

    [Fact]
    public async Task The_parent_headquarters_rule_needs_a_licence_for_a_buyer_whose_registered_parent_is_headquartered_in_China()
    {
        var buyer = NewBuyer();
        (await ScreenAsync(buyer, H100, "SG")).Outcome.ShouldBe(Api.ScreeningOutcome.Approved);

        await RegisterAsync(buyer, new
        {
            legalName = "Lion City Compute Pte. Ltd.", country = "SG",
            ultimateParent = new { name = "Pacific Rim Compute Holdings Ltd.", headquartersCountry = "CN" },
        });
        var reservationId = Guid.NewGuid().ToString();
        var response = await ScreenAsync(buyer, H100, "SG", reservationId);

        response.Outcome.ShouldBe(Api.ScreeningOutcome.LicenceRequired);
        response.Lines[0].Reasons.ShouldContain(reason => reason.Contains("ultimate parent is headquartered", StringComparison.Ordinal));
        using var decisions = await service.Http.GetAsync(new Uri($"/v1/decisions/{reservationId}", UriKind.Relative), Cancel);
        var evidence = (await decisions.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("decisions")[0].GetProperty("evidence");
        evidence.GetProperty("buyer").GetProperty("ultimateParentHeadquartersCountry").GetString().ShouldBe("CN");
        evidence.GetProperty("buyer").GetProperty("recordedBy").GetString().ShouldBe("officer");
    }

    [Fact]
    public async Task A_buyer_that_is_its_own_ultimate_parent_is_assessed_where_it_is_headquartered()
    {
        var buyer = NewBuyer();
        await RegisterAsync(buyer, new { legalName = "Pearl Delta Compute Ltd.", country = "MO" });

        (await ScreenAsync(buyer, H100, "SG")).Outcome.ShouldBe(Api.ScreeningOutcome.LicenceRequired);
    }

    [Fact]
    public async Task Registrations_are_kept_as_an_audit_trail_and_the_latest_governs()
    {
        var buyer = NewBuyer();
        await RegisterAsync(buyer, new { legalName = "Pearl Delta Compute Ltd.", country = "MO" });
        await RegisterAsync(buyer, new { legalName = "Pearl Delta Compute Ltd.", country = "SG" });

        using var read = await service.Http.GetAsync(new Uri($"/v1/buyers/{buyer}", UriKind.Relative), Cancel);
        var body = await read.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        body.GetProperty("current").GetProperty("country").GetString().ShouldBe("SG");
        body.GetProperty("history").GetArrayLength().ShouldBe(2);
        body.GetProperty("history")[1].GetProperty("recordedBy").GetString().ShouldBe("officer");
        (await ScreenAsync(buyer, H100, "SG")).Outcome.ShouldBe(Api.ScreeningOutcome.Approved);

        await using var connection = new NpgsqlConnection(service.DatabaseConnectionString);
        await connection.OpenAsync(Cancel);
        await using var update = new NpgsqlCommand("UPDATE buyer_registrations SET country = 'US' WHERE buyer_id = @id", connection);
        update.Parameters.AddWithValue("id", buyer);
        (await Should.ThrowAsync<PostgresException>(() => update.ExecuteNonQueryAsync(Cancel))).MessageText.ShouldContain("never changed");
    }

    [Fact]
    public async Task A_new_registration_of_the_buyer_ends_the_commit_gate_s_vouching_for_its_earlier_decisions()
    {
        var buyer = NewBuyer();
        var before = await ScreenAsync(buyer, H20, "US");
        (await VouchAsync(before.DecisionId)).Current.ShouldBeTrue();

        await RegisterAsync(buyer, new { legalName = "Acme Cloud Pte. Ltd.", country = "SG" });

        var stale = await VouchAsync(before.DecisionId);
        stale.Current.ShouldBeFalse();
        stale.Reason.ShouldContain("registration changed");
        var after = await ScreenAsync(buyer, H20, "US");
        (await VouchAsync(after.DecisionId)).Current.ShouldBeTrue();
        after.VouchedUntil.ShouldNotBeNull();

        await RegisterAsync(buyer, new { legalName = "Acme Cloud Pte. Ltd.", country = "SG", ultimateParent = new { name = "Acme Holdings", headquartersCountry = "US" } });
        (await VouchAsync(after.DecisionId)).Current.ShouldBeFalse();
    }

    [Fact]
    public async Task An_incomplete_registration_is_a_validation_problem_naming_each_field()
    {
        using var response = await service.Http.PutAsJsonAsync(new Uri($"/v1/buyers/{NewBuyer()}", UriKind.Relative), new
        {
            legalName = " ", country = "China", ultimateParent = new { name = "Parent Co." },
        }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        errors.TryGetProperty("legalName", out _).ShouldBeTrue();
        errors.TryGetProperty("country", out _).ShouldBeTrue();
        errors.TryGetProperty("ultimateParent.headquartersCountry", out _).ShouldBeTrue();
    }

    [Theory]
    [InlineData("XX", "US", "country")]
    [InlineData("CN", "ZZ", "ultimateParent.headquartersCountry")]
    [InlineData("cN", "QQ", "ultimateParent.headquartersCountry")]
    public async Task A_country_code_no_country_has_is_refused_so_no_rule_naming_countries_is_passed_by_a_typo(string country, string headquarters, string field)
    {
        var buyer = NewBuyer();
        using var response = await service.Http.PutAsJsonAsync(new Uri($"/v1/buyers/{buyer}", UriKind.Relative), new
        {
            legalName = "Typo Holdings Ltd.", country, ultimateParent = new { name = "Typo Parent Co.", headquartersCountry = headquarters },
        }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        errors.EnumerateObject().Select(error => error.Name).ShouldBe([field]);
        errors.GetProperty(field)[0].GetString()!.ShouldContain("is not an ISO 3166-1 alpha-2 country code");
        using var stored = await service.Http.GetAsync(new Uri($"/v1/buyers/{buyer}", UriKind.Relative), Cancel);
        stored.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_unregistered_buyer_is_not_found()
    {
        using var response = await service.Http.GetAsync(new Uri($"/v1/buyers/{NewBuyer()}", UriKind.Relative), Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    private static string NewBuyer() => $"buyer-{Guid.NewGuid():N}";

    private async Task RegisterAsync(string buyer, object body)
    {
        using var response = await service.Http.PutAsJsonAsync(new Uri($"/v1/buyers/{buyer}", UriKind.Relative), body, Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Cancel));
    }

    private async Task<Api.VouchForDecisionResponse> VouchAsync(string decisionId) =>
        await service.Grpc.VouchForDecisionAsync(new Api.VouchForDecisionRequest { DecisionId = decisionId }, cancellationToken: Cancel);

    private async Task<Api.ScreenResponse> ScreenAsync(string buyer, string sku, string destination, string? reservationId = null)
    {
        var request = new Api.ScreenRequest
        {
            ReservationId = reservationId ?? Guid.NewGuid().ToString(),
            BuyerId = buyer,
            EndUser = new Api.Party { Name = "Acme Cloud Pte. Ltd.", Country = destination },
            DestinationCountry = destination,
        };
        request.Lines.Add(new Api.ScreenLine { Sku = sku, Quantity = 1 });
        return await service.Grpc.ScreenAsync(request, cancellationToken: Cancel);
    }
}
