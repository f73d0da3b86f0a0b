using System.Net;
using System.Net.Http.Json;
using Grpc.Core;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// The commit gate's judge, on the real service and database: a decision vouches for a commit only while no rule set
/// published after it has taken effect, and never for longer than the vouching window or past the next rule set's effect.
/// A fixture of its own: publishing rule sets changes what every screening of that database applies.
/// </summary>
public sealed class DecisionVouchTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_approval_vouches_until_a_later_rule_set_takes_effect_and_not_after()
    {
        await PublishAsync("vouch-1", DateTimeOffset.UtcNow.AddMinutes(30));
        var decision = await ScreenAsync();
        decision.Outcome.ShouldBe(Api.ScreeningOutcome.Approved);

        var fresh = await VouchAsync(decision.DecisionId);
        fresh.Current.ShouldBeTrue(fresh.Reason);
        fresh.RuleSetVersion.ShouldBe("vouch-1");
        // Bounded by the vouching window (3 s by default), not by the cutoff half an hour away.
        fresh.ValidUntil.ToDateTimeOffset().ShouldBeGreaterThan(fresh.AsOf.ToDateTimeOffset());
        fresh.ValidUntil.ToDateTimeOffset().ShouldBeLessThanOrEqualTo(fresh.AsOf.ToDateTimeOffset().AddSeconds(3));
        // The approval came with the same answer, given as the decision was stored.
        decision.VouchedUntil.ShouldNotBeNull();
        decision.VouchedUntil.ToDateTimeOffset().ShouldBeLessThanOrEqualTo(fresh.ValidUntil.ToDateTimeOffset());
        decision.VouchedUntil.ToDateTimeOffset().ShouldBeGreaterThan(fresh.AsOf.ToDateTimeOffset().AddSeconds(-3));

        // A rule set published after the decision and taking effect within the window caps the answer at its effect.
        var effect = DateTimeOffset.UtcNow.AddSeconds(2);
        await PublishAsync("vouch-2", effect);
        var capped = await VouchAsync(decision.DecisionId);
        capped.Current.ShouldBeTrue(capped.Reason);
        capped.ValidUntil.ToDateTimeOffset().ShouldBe(Truncate(effect));
        // Screened while that rule set is published but not yet in force, the answer given with it is capped the same.
        var meanwhile = await ScreenAsync();
        if (meanwhile.Outcome == Api.ScreeningOutcome.Approved)
        {
            meanwhile.VouchedUntil.ToDateTimeOffset().ShouldBeLessThanOrEqualTo(Truncate(effect));
        }

        await Task.Delay(Truncate(effect) - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(100), Cancel);
        var stale = await VouchAsync(decision.DecisionId);
        stale.Current.ShouldBeFalse();
        stale.ValidUntil.ShouldBeNull();
        stale.Reason.ShouldContain("vouch-2");
        stale.RuleSetVersion.ShouldBe("vouch-2");

        // Screened again under the rule in force, the sale now needs a licence: that decision vouches for no commit.
        var again = await ScreenAsync();
        again.Outcome.ShouldBe(Api.ScreeningOutcome.LicenceRequired);
        var refused = await VouchAsync(again.DecisionId);
        refused.Current.ShouldBeFalse();
        refused.Reason.ShouldContain("not an approval");
        again.VouchedUntil.ShouldBeNull();
    }

    [Fact]
    public async Task A_decision_that_was_never_taken_is_not_found_and_a_malformed_id_is_an_invalid_argument()
    {
        var unknown = await Should.ThrowAsync<RpcException>(() => VouchAsync(Guid.NewGuid().ToString()));
        unknown.StatusCode.ShouldBe(StatusCode.NotFound);
        var malformed = await Should.ThrowAsync<RpcException>(() => VouchAsync("decision-42"));
        malformed.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        malformed.Status.Detail.ShouldContain("decision_id");
    }

    private async Task PublishAsync(string version, DateTimeOffset effectiveAt)
    {
        using var response = await service.Http.PostAsJsonAsync(
            "/v1/rule-sets", new { version, effectiveAt = Truncate(effectiveAt), basedOn = "2023-10-17" }, Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Cancel));
    }

    private async Task<Api.ScreenResponse> ScreenAsync()
    {
        var request = new Api.ScreenRequest
        {
            ReservationId = Guid.NewGuid().ToString(),
            BuyerId = "buyer-vouch",
            EndUser = new Api.Party { Name = "Acme Cloud Pte. Ltd.", Country = "SG" },
            DestinationCountry = "CN",
        };
        request.Lines.Add(new Api.ScreenLine { Sku = "NVIDIA-H100-SXM5-80GB", Quantity = 8 });
        return await service.Grpc.ScreenAsync(request, cancellationToken: Cancel);
    }

    private async Task<Api.VouchForDecisionResponse> VouchAsync(string decisionId) =>
        await service.Grpc.VouchForDecisionAsync(new Api.VouchForDecisionRequest { DecisionId = decisionId }, cancellationToken: Cancel);

    // Rule sets keep whole microseconds (PostgreSQL); compare at that precision.
    private static DateTimeOffset Truncate(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % 10), TimeSpan.Zero);
}
