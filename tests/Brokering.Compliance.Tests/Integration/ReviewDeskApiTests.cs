using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Brokering.Contracts.Ordering;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Google.Protobuf.WellKnownTypes;
using MassTransit;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// The officers' review desk over REST on real PostgreSQL and RabbitMQ: a potential match waits in the queue, an officer
/// rules on it once, and the ruling is filed as a decision and told to ordering through the outbox.
/// </summary>
public sealed class ReviewDeskApiTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    // Scores in the default review band against "Inspur Group Co., Ltd.": not a match, not clear either.
    private const string NearMiss = "Inspor Group";
    private const string H20 = "NVIDIA-H20";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_potential_match_waits_for_an_officer_whose_clearance_files_an_approval_told_to_ordering_once()
    {
        var screened = Channel.CreateUnbounded<ReservationScreened>();
        var observer = await service.StartObserverAsync($"compliance-tests-review-clear-{Guid.NewGuid():N}", endpoint =>
            endpoint.Handler<ReservationScreened>(context => screened.Writer.WriteAsync(context.Message).AsTask()));
        try
        {
            var reservationId = Guid.NewGuid();
            var decideBy = DateTimeOffset.UtcNow.AddMinutes(5);
            var response = await service.Grpc.ScreenAsync(Request(reservationId, NearMiss, decideBy), cancellationToken: Cancel);

            response.Outcome.ShouldBe(Api.ScreeningOutcome.PotentialMatch);
            response.Matches.ShouldHaveSingleItem().Potential.ShouldBeTrue();
            response.Reasons.ShouldNotContain(reason => reason.Contains("Inspur", StringComparison.Ordinal) || reason.Contains("score", StringComparison.Ordinal));

            var review = await OpenReviewAsync(reservationId.ToString());
            review.ShouldNotBeNull();
            review.Value.GetProperty("decisionId").GetString().ShouldBe(response.DecisionId);
            review.Value.GetProperty("buyerId").GetString().ShouldBe("buyer-review");
            review.Value.GetProperty("decideBy").GetDateTimeOffset().ShouldBe(decideBy, TimeSpan.FromMilliseconds(1));
            review.Value.GetProperty("due").GetDateTimeOffset().ShouldBe(decideBy, TimeSpan.FromMilliseconds(1));
            var match = review.Value.GetProperty("matches").EnumerateArray().ShouldHaveSingleItem();
            match.GetProperty("entryName").GetString().ShouldBe("Inspur Group Co., Ltd.");
            match.GetProperty("queriedName").GetString().ShouldBe(NearMiss);
            match.GetProperty("score").GetDouble().ShouldBeLessThan(0.85);

            using var cleared = await service.Http.PostAsJsonAsync(
                $"/v1/reviews/{response.DecisionId}/clear", new { reason = "A hotel chain in Lisbon, unrelated to the server maker." }, Cancel);

            cleared.StatusCode.ShouldBe(HttpStatusCode.OK, await cleared.Content.ReadAsStringAsync(Cancel));
            var ruling = await cleared.Content.ReadFromJsonAsync<JsonElement>(Cancel);
            ruling.GetProperty("ruling").GetString().ShouldBe("Cleared");
            ruling.GetProperty("ruledBy").GetString().ShouldBe("officer");
            ruling.GetProperty("rulingOutcome").GetString().ShouldBe("Approved");
            var approval = ruling.GetProperty("rulingDecisionId").GetString()!;

            var told = await ReadAsync(screened, message => message.ReservationId == reservationId);
            told.Outcome.ShouldBe(ScreeningOutcome.Approved);
            told.DecisionId.ShouldBe(approval);
            (await OpenReviewAsync(reservationId.ToString())).ShouldBeNull();

            // The evidence keeps both decisions, the approval naming the officer's clearance.
            var decisions = await service.Http.GetFromJsonAsync<JsonElement>($"/v1/decisions/{reservationId}", Cancel);
            var filed = decisions.GetProperty("decisions").EnumerateArray().ToList();
            filed.Select(decision => decision.GetProperty("outcome").GetString()).ShouldBe(["PotentialMatch", "Approved"]);
            var clearedMatch = filed[1].GetProperty("evidence").GetProperty("matches").EnumerateArray().ShouldHaveSingleItem();
            clearedMatch.GetProperty("cleared").GetBoolean().ShouldBeTrue();
            clearedMatch.GetProperty("clearanceId").GetString().ShouldBe(response.DecisionId);

            // A later screening of the same reservation (a rule change, the commit gate) keeps the officer's clearance.
            var again = await service.Grpc.ScreenAsync(Request(reservationId, NearMiss, decideBy), cancellationToken: Cancel);
            again.Outcome.ShouldBe(Api.ScreeningOutcome.Approved);

            // A second ruling, by another officer, is refused and changes nothing.
            using var colleague = service.CreateAnonymousClient();
            colleague.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
                TestTokens.For("officer-2", null, BrokeringRoles.ComplianceOfficer));
            using var second = await colleague.PostAsJsonAsync($"/v1/reviews/{response.DecisionId}/confirm", new { reason = "Looks like Inspur to me." }, Cancel);
            second.StatusCode.ShouldBe(HttpStatusCode.Conflict);
            second.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
            (await second.Content.ReadAsStringAsync(Cancel)).ShouldContain("already cleared by officer");
        }
        finally
        {
            await observer.StopAsync(Cancel);
        }
    }

    [Fact]
    public async Task Confirming_a_potential_match_files_a_denial_told_to_ordering()
    {
        var screened = Channel.CreateUnbounded<ReservationScreened>();
        var observer = await service.StartObserverAsync($"compliance-tests-review-confirm-{Guid.NewGuid():N}", endpoint =>
            endpoint.Handler<ReservationScreened>(context => screened.Writer.WriteAsync(context.Message).AsTask()));
        try
        {
            var reservationId = Guid.NewGuid();
            var response = await service.Grpc.ScreenAsync(Request(reservationId, NearMiss, null), cancellationToken: Cancel);
            response.Outcome.ShouldBe(Api.ScreeningOutcome.PotentialMatch);

            using var confirmed = await service.Http.PostAsJsonAsync(
                $"/v1/reviews/{response.DecisionId}/confirm", new { reason = "The Lisbon address is Inspur's European office." }, Cancel);

            confirmed.StatusCode.ShouldBe(HttpStatusCode.OK, await confirmed.Content.ReadAsStringAsync(Cancel));
            var ruling = await confirmed.Content.ReadFromJsonAsync<JsonElement>(Cancel);
            ruling.GetProperty("ruling").GetString().ShouldBe("Confirmed");
            ruling.GetProperty("rulingOutcome").GetString().ShouldBe("Denied");
            var told = await ReadAsync(screened, message => message.ReservationId == reservationId);
            told.Outcome.ShouldBe(ScreeningOutcome.Denied);
            told.DecisionId.ShouldBe(ruling.GetProperty("rulingDecisionId").GetString());
            // The officer's words stay on the desk's record, not in what ordering is told.
            told.Reasons.ShouldNotContain(reason => reason.Contains("Lisbon", StringComparison.Ordinal) || reason.Contains("score", StringComparison.Ordinal));
            (await OpenReviewAsync(reservationId.ToString())).ShouldBeNull();
        }
        finally
        {
            await observer.StopAsync(Cancel);
        }
    }

    [Fact]
    public async Task Officers_ruling_on_one_match_at_the_same_moment_file_one_ruling_and_the_others_are_told_it_was_made()
    {
        var reservationId = Guid.NewGuid();
        var response = await service.Grpc.ScreenAsync(Request(reservationId, NearMiss, DateTimeOffset.UtcNow.AddMinutes(5)), cancellationToken: Cancel);
        response.Outcome.ShouldBe(Api.ScreeningOutcome.PotentialMatch);
        var officers = Enumerable.Range(1, 6).Select(i =>
        {
            var officer = service.CreateAnonymousClient();
            officer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
                TestTokens.For($"officer-race-{i}", null, BrokeringRoles.ComplianceOfficer));
            return officer;
        }).ToList();
        try
        {
            // Half clear, half confirm, all at once: the decision's row lock lets one rule and the rest find its ruling.
            var rulings = await Task.WhenAll(officers.Select((officer, i) => officer.PostAsJsonAsync(
                $"/v1/reviews/{response.DecisionId}/{(i % 2 == 0 ? "clear" : "confirm")}", new { reason = $"Ruling {i}." }, Cancel)));
            var statuses = new List<HttpStatusCode>();
            foreach (var ruling in rulings)
            {
                using (ruling)
                {
                    statuses.Add(ruling.StatusCode);
                }
            }

            statuses.Count(status => status == HttpStatusCode.OK).ShouldBe(1, string.Join(", ", statuses));
            statuses.Count(status => status == HttpStatusCode.Conflict).ShouldBe(officers.Count - 1, string.Join(", ", statuses));
            var decisions = await service.Http.GetFromJsonAsync<JsonElement>($"/v1/decisions/{reservationId}", Cancel);
            decisions.GetProperty("decisions").GetArrayLength().ShouldBe(2, "the potential match and the one ruling's decision");
        }
        finally
        {
            foreach (var officer in officers)
            {
                officer.Dispose();
            }
        }
    }

    [Fact]
    public async Task An_operator_sees_the_queue_without_the_listed_entry_or_score_and_may_not_rule()
    {
        var reservationId = Guid.NewGuid();
        var response = await service.Grpc.ScreenAsync(Request(reservationId, NearMiss, DateTimeOffset.UtcNow.AddMinutes(5)), cancellationToken: Cancel);
        response.Outcome.ShouldBe(Api.ScreeningOutcome.PotentialMatch);
        using var operatorClient = service.CreateAnonymousClient();
        operatorClient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Operator());

        var queue = await operatorClient.GetFromJsonAsync<JsonElement>("/v1/reviews", Cancel);

        var review = queue.GetProperty("reviews").EnumerateArray().Single(item => item.GetProperty("reservationId").GetString() == reservationId.ToString());
        review.GetProperty("evidenceWithheld").GetBoolean().ShouldBeTrue();
        review.GetProperty("due").ValueKind.ShouldBe(JsonValueKind.String);
        var match = review.GetProperty("matches").EnumerateArray().ShouldHaveSingleItem();
        match.GetProperty("role").GetString().ShouldBe("end_user");
        match.GetProperty("queriedName").GetString().ShouldBe(NearMiss);
        foreach (var withheld in new[] { "entryId", "entryName", "matchedName", "score", "threshold", "reviewThreshold", "list", "mixesScripts" })
        {
            match.GetProperty(withheld).ValueKind.ShouldBe(JsonValueKind.Null, withheld);
        }

        review.GetRawText().ShouldNotContain("Inspur");
        using var refused = await operatorClient.PostAsJsonAsync($"/v1/reviews/{response.DecisionId}/clear", new { reason = "looks fine to me" }, Cancel);
        refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await OpenReviewAsync(reservationId.ToString())).ShouldNotBeNull().GetProperty("evidenceWithheld").GetBoolean().ShouldBeFalse();
    }

    // A clearance screens again, and with a licence on file draws units: for a reservation that has ended (ordering gave
    // back what it drew when told of the end), those units would never come back, for a sale that cannot happen.
    [Fact]
    public async Task A_review_of_a_reservation_that_ended_leaves_the_queue_and_a_ruling_on_it_is_refused_drawing_nothing()
    {
        const string H100 = "NVIDIA-H100-SXM5-80GB";
        var (buyer, licenceUrl) = await service.RecordLicenceAsync(H100, "CN", units: 10);
        var reservationId = Guid.NewGuid();
        var request = Request(reservationId, NearMiss, DateTimeOffset.UtcNow.AddMinutes(5));
        request.BuyerId = buyer;
        request.DestinationCountry = "CN";
        request.EndUser.Country = "CN";
        request.Lines[0].Sku = H100;
        var response = await service.Grpc.ScreenAsync(request, cancellationToken: Cancel);
        response.Outcome.ShouldBe(Api.ScreeningOutcome.PotentialMatch);
        (await OpenReviewAsync(reservationId.ToString())).ShouldNotBeNull();

        var publisher = await service.StartObserverAsync($"review-desk-tests-{Guid.NewGuid():N}", _ => { });
        try
        {
            await publisher.Publish(new ReservationEndedUnconfirmed(reservationId, buyer, "Cancelled", "changed plans", DateTimeOffset.UtcNow), Cancel);
            await Eventually.Until(async () => await OpenReviewAsync(reservationId.ToString()) is null, "the review to leave the queue",
                TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), cancellationToken: Cancel);
        }
        finally
        {
            await publisher.StopAsync(CancellationToken.None);
        }

        using var clear = await service.Http.PostAsJsonAsync($"/v1/reviews/{response.DecisionId}/clear", new { reason = "a near miss" }, Cancel);

        clear.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        (await clear.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("title").GetString().ShouldBe("Reservation ended");
        var licence = await service.Http.GetFromJsonAsync<JsonElement>(licenceUrl, Cancel);
        licence.GetProperty("drawn").GetInt64().ShouldBe(0);
        var decisions = await service.Http.GetFromJsonAsync<JsonElement>($"/v1/decisions/{reservationId}", Cancel);
        decisions.GetProperty("decisions").GetArrayLength().ShouldBe(1, "nothing filed after the end");
    }

    [Fact]
    public async Task A_ruling_without_a_reason_or_on_no_decision_is_a_problem_naming_the_field()
    {
        using var invalid = await service.Http.PostAsJsonAsync("/v1/reviews/not-a-decision/clear", new { reason = " " }, Cancel);
        invalid.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        invalid.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var errors = (await invalid.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        errors.TryGetProperty("decisionId", out _).ShouldBeTrue();
        errors.TryGetProperty("reason", out _).ShouldBeTrue();

        using var unknown = await service.Http.PostAsJsonAsync($"/v1/reviews/{Guid.NewGuid()}/confirm", new { reason = "listed" }, Cancel);
        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);

        var approved = await service.Grpc.ScreenAsync(Request(Guid.NewGuid(), "Acme Cloud Pte. Ltd.", null), cancellationToken: Cancel);
        approved.Outcome.ShouldBe(Api.ScreeningOutcome.Approved);
        using var nothingToReview = await service.Http.PostAsJsonAsync($"/v1/reviews/{approved.DecisionId}/clear", new { reason = "fine" }, Cancel);
        nothingToReview.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        (await nothingToReview.Content.ReadAsStringAsync(Cancel)).ShouldContain("not a potential match");

        using var badLimit = await service.Http.GetAsync("/v1/reviews?limit=0", Cancel);
        badLimit.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await badLimit.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors").TryGetProperty("limit", out _).ShouldBeTrue();
    }

    private async Task<JsonElement?> OpenReviewAsync(string reservationId)
    {
        var queue = await service.Http.GetFromJsonAsync<JsonElement>("/v1/reviews", Cancel);
        foreach (var review in queue.GetProperty("reviews").EnumerateArray())
        {
            if (review.GetProperty("reservationId").GetString() == reservationId)
            {
                return review;
            }
        }

        return null;
    }

    private static async Task<ReservationScreened> ReadAsync(Channel<ReservationScreened> channel, Func<ReservationScreened, bool> wanted)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            var message = await channel.Reader.ReadAsync(timeout.Token);
            if (wanted(message))
            {
                return message;
            }
        }
    }

    private static Api.ScreenRequest Request(Guid reservationId, string endUser, DateTimeOffset? decideBy)
    {
        var request = new Api.ScreenRequest
        {
            ReservationId = reservationId.ToString(),
            BuyerId = "buyer-review",
            EndUser = new Api.Party { Name = endUser, Country = "US" },
            DestinationCountry = "US",
            DecideBy = decideBy is { } at ? Timestamp.FromDateTimeOffset(at) : null,
        };
        request.Lines.Add(new Api.ScreenLine { Sku = H20, Quantity = 1 });
        return request;
    }
}
