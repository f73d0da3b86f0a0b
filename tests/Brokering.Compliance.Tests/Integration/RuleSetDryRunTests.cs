using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Tests.Integration;

// A fixture of its own: the test publishes the rule set its reservations are screened under.
public sealed class RuleSetDryRunTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private static readonly string[] ChinaAndUs = ["CN", "US"];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_dry_run_says_what_the_rule_set_would_do_to_each_reservation_and_publishes_and_files_nothing()
    {
        var now = DateTimeOffset.UtcNow;
        var inForce = Truncate(now.AddHours(2));
        using (var published = await service.Http.PostAsJsonAsync("/v1/rule-sets", new { version = "dry-base", effectiveAt = inForce, basedOn = "2023-10-17" }, Cancel))
        {
            published.StatusCode.ShouldBe(HttpStatusCode.Created);
        }

        var toChina = await ScreenAsync("CN");
        var toUs = await ScreenAsync("US");
        (toChina.Outcome, toChina.EarliestCutoff!.ToDateTimeOffset()).ShouldBe((Api.ScreeningOutcome.Approved, inForce));
        (toUs.Outcome, toUs.EarliestCutoff).ShouldBe((Api.ScreeningOutcome.Approved, null));
        var decisionsBefore = await DecisionCountAsync();
        var never = Guid.NewGuid().ToString();
        var reservations = new[]
        {
            new { reservationId = toChina.ReservationId, status = "Held" },
            new { reservationId = toUs.ReservationId, status = "AwaitingStock" },
            new { reservationId = never, status = "Screening" },
        };

        var earlier = Truncate(now.AddMinutes(30));
        var sooner = await DryRunAsync(new { version = "dry-sooner", effectiveAt = earlier, basedOn = "dry-base" }, reservations);
        var past = await DryRunAsync(new { version = "dry-past", effectiveAt = Truncate(now.AddMinutes(-1)), basedOn = "dry-base" }, reservations);
        var usToo = await DryRunAsync(
            new { version = "dry-us", effectiveAt = earlier, basedOn = "dry-base", destinations = new { countries = ChinaAndUs } }, reservations);

        Effects(sooner).ShouldBe(new Dictionary<string, string>
        {
            [toChina.ReservationId] = "CutoffEarlier", [toUs.ReservationId] = "Unchanged", [never] = "NotScreened",
        });
        var moved = Of(sooner, toChina.ReservationId);
        moved.GetProperty("cutoff").GetDateTimeOffset().ShouldBe(earlier);
        moved.GetProperty("currentCutoff").GetDateTimeOffset().ShouldBe(inForce);
        moved.GetProperty("status").GetString().ShouldBe("Held");
        sooner.GetProperty("effects").GetProperty("CutoffEarlier").GetInt32().ShouldBe(1);
        sooner.GetProperty("ruleSet").GetProperty("version").GetString().ShouldBe("dry-sooner");
        sooner.GetProperty("reservations")[0].GetProperty("reservationId").GetString().ShouldBe(toChina.ReservationId, "what changes comes first");
        Effects(past)[toChina.ReservationId].ShouldBe("CutoffPassed");
        Effects(past)[toUs.ReservationId].ShouldBe("Unchanged");
        Effects(usToo)[toUs.ReservationId].ShouldBe("CutoffEarlier");

        // Nothing was published, filed or drawn: screening still applies the rule set in force.
        (await DecisionCountAsync()).ShouldBe(decisionsBefore);
        using var unpublished = await service.Http.GetAsync("/v1/rule-sets/dry-sooner", Cancel);
        unpublished.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await ScreenAsync("CN")).EarliestCutoff!.ToDateTimeOffset().ShouldBe(inForce);
    }

    [Fact]
    public async Task An_invalid_dry_run_is_refused_with_field_paths_into_the_rule_set_and_the_reservations()
    {
        using var response = await service.Http.PostAsJsonAsync("/v1/rule-sets/dry-run", new
        {
            ruleSet = new { version = "bad version", criteria = new[] { new { classification = "3A090.z" } } },
            reservations = new object?[] { new { reservationId = "r-1" }, new { reservationId = "" }, null },
        }, Cancel);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        foreach (var field in new[] { "ruleSet.version", "ruleSet.effectiveAt", "ruleSet.criteria[0].classification", "reservations[1].reservationId", "reservations[2].reservationId" })
        {
            errors.TryGetProperty(field, out _).ShouldBeTrue($"{field} in {errors}");
        }

        using var none = await service.Http.PostAsJsonAsync("/v1/rule-sets/dry-run", new { }, Cancel);
        var noneErrors = (await none.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        noneErrors.TryGetProperty("ruleSet", out _).ShouldBeTrue();
        noneErrors.TryGetProperty("reservations", out _).ShouldBeTrue();

        // No reservation in flight: the rule set is only validated.
        var empty = await DryRunAsync(new { version = "dry-empty", effectiveAt = DateTimeOffset.UtcNow.AddDays(1), basedOn = "2023-10-17" }, Array.Empty<object>());
        empty.GetProperty("reservations").GetArrayLength().ShouldBe(0);
    }

    private async Task<JsonElement> DryRunAsync(object ruleSet, object reservations)
    {
        using var response = await service.Http.PostAsJsonAsync("/v1/rule-sets/dry-run", new { ruleSet, reservations }, Cancel);
        var body = await response.Content.ReadAsStringAsync(Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static Dictionary<string, string> Effects(JsonElement dryRun) =>
        dryRun.GetProperty("reservations").EnumerateArray()
            .ToDictionary(r => r.GetProperty("reservationId").GetString()!, r => r.GetProperty("effect").GetString()!);

    private static JsonElement Of(JsonElement dryRun, string reservationId) =>
        dryRun.GetProperty("reservations").EnumerateArray().Single(r => r.GetProperty("reservationId").GetString() == reservationId);

    private async Task<int> DecisionCountAsync() =>
        (await service.Http.GetFromJsonAsync<JsonElement>("/v1/decisions?limit=500", Cancel)).GetProperty("decisions").GetArrayLength();

    private async Task<(string ReservationId, Api.ScreeningOutcome Outcome, Google.Protobuf.WellKnownTypes.Timestamp? EarliestCutoff)> ScreenAsync(string destination)
    {
        var (reservationId, answer) = await service.ScreenH100Async(destination, "buyer-dry");
        return (reservationId, answer.Outcome, answer.EarliestCutoff);
    }

    // PostgreSQL keeps microseconds; JSON round trips must compare equal.
    private static DateTimeOffset Truncate(DateTimeOffset value) => new(value.Ticks - value.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
}
