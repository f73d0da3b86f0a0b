using Brokering.Testing.Installation;
using System.Net;
using System.Text.Json;
using Brokering.Contracts.Grpc.Ordering;
using Shouldly;
using GrpcReservationLine = Brokering.Contracts.Grpc.Ordering.ReservationLine;

namespace Brokering.EndToEnd.Tests;

/// <summary>The buyer-API tests share one installation: they use their own buyers and never publish stock.</summary>
[CollectionDefinition(nameof(BuyerApiCollection))]
public sealed class BuyerApiCollection : ICollectionFixture<SystemUnderTest>;

/// <summary>
/// invariant §4.5 (docs/invariants.md) at the front door: a submission retried with the same Idempotency-Key has the effect of
/// one, whatever the retries look like, and a key cannot be reused for a different request.
/// </summary>
[Collection(nameof(BuyerApiCollection))]
public sealed class IdempotencyTests(SystemUnderTest system)
{
    private const string Sku = "NVIDIA-H800-SXM5-80GB";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly ScrambleDriver driver = system.Scramble();

    [Fact]
    public async Task A_retry_with_the_same_key_and_body_replays_the_first_answer_and_makes_one_reservation()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = NewBuyer("idem-replay");
        var key = Guid.NewGuid().ToString();
        var body = Body("PO-IDEM-1", quantity: 5);

        using var first = await driver.PostReservationAsync(buyer, body, key, cancellationToken);
        var firstText = await first.Content.ReadAsStringAsync(cancellationToken);
        first.StatusCode.ShouldBe(HttpStatusCode.Accepted, firstText);
        using var firstJson = JsonDocument.Parse(firstText);
        var id = firstJson.RootElement.GetProperty("id").GetGuid();
        var status = firstJson.RootElement.GetProperty("status").GetString();
        first.Headers.Location.ShouldNotBeNull().ToString().ShouldBe($"/v1/reservations/{id}");

        using var retry = await driver.PostReservationAsync(buyer, body, key, cancellationToken);
        var retryText = await retry.Content.ReadAsStringAsync(cancellationToken);
        retry.StatusCode.ShouldBe(HttpStatusCode.Accepted, retryText);
        using var retryJson = JsonDocument.Parse(retryText);
        retryJson.RootElement.GetProperty("id").GetGuid().ShouldBe(id);
        retryJson.RootElement.GetProperty("status").GetString().ShouldBe(status);
        retry.Headers.Location.ShouldBe(first.Headers.Location);

        var view = await driver.GetAsync(buyer, id, cancellationToken);
        view.GetProperty("id").GetGuid().ShouldBe(id);
        view.GetProperty("buyerReference").GetString().ShouldBe("PO-IDEM-1");

        await ShouldHaveExactlyOneReservationAsync(buyer, id, cancellationToken);
    }

    [Fact]
    public async Task Reusing_a_key_with_a_different_body_is_refused_with_422_problem_details_and_leaves_the_first_reservation_alone()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = NewBuyer("idem-mismatch");
        var key = Guid.NewGuid().ToString();
        var id = await driver.SubmitAcceptedAsync(buyer, Body("PO-IDEM-2", quantity: 5), cancellationToken, key);

        using var reused = await driver.PostReservationAsync(buyer, Body("PO-IDEM-2", quantity: 6), key, cancellationToken);
        var text = await reused.Content.ReadAsStringAsync(cancellationToken);
        reused.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity, text);
        reused.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        using var problem = JsonDocument.Parse(text);
        problem.RootElement.GetProperty("status").GetInt32().ShouldBe(422);
        problem.RootElement.GetProperty("detail").GetString().ShouldNotBeNullOrWhiteSpace();

        // The first request's answer still stands for its own body.
        var replayed = await driver.SubmitAcceptedAsync(buyer, Body("PO-IDEM-2", quantity: 5), cancellationToken, key);
        replayed.ShouldBe(id);

        await ShouldHaveExactlyOneReservationAsync(buyer, id, cancellationToken);
        var view = await driver.GetAsync(buyer, id, cancellationToken);
        view.GetProperty("lines")[0].GetProperty("quantity").GetInt64().ShouldBe(5);
    }

    [Fact]
    public async Task Concurrent_retries_with_one_key_make_one_reservation_and_each_answer_is_that_reservation_or_a_retry_later()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = NewBuyer("idem-concurrent");
        var key = Guid.NewGuid().ToString();
        var body = Body("PO-IDEM-3", quantity: 7);

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            using var response = await driver.PostReservationAsync(buyer, body, key, cancellationToken);
            return (response.StatusCode, MediaType: response.Content.Headers.ContentType?.MediaType, Body: await response.Content.ReadAsStringAsync(cancellationToken));
        }));

        var accepted = answers.Where(answer => answer.StatusCode == HttpStatusCode.Accepted).ToList();
        accepted.ShouldNotBeEmpty(string.Join("\n", answers));
        var ids = accepted.Select(answer => JsonDocument.Parse(answer.Body).RootElement.GetProperty("id").GetGuid()).Distinct().ToList();
        ids.Count.ShouldBe(1, string.Join("\n", answers));
        foreach (var other in answers.Where(answer => answer.StatusCode != HttpStatusCode.Accepted))
        {
            other.StatusCode.ShouldBe(HttpStatusCode.Conflict, other.Body);
            other.MediaType.ShouldBe("application/problem+json");
        }

        (await driver.SubmitAcceptedAsync(buyer, body, cancellationToken, key)).ShouldBe(ids[0]);
        await ShouldHaveExactlyOneReservationAsync(buyer, ids[0], cancellationToken);
    }

    [Fact]
    public async Task A_key_belongs_to_its_buyer_so_another_buyer_using_the_same_key_gets_a_reservation_of_its_own()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var (one, two) = (NewBuyer("idem-one"), NewBuyer("idem-two"));
        var key = Guid.NewGuid().ToString();

        var first = await driver.SubmitAcceptedAsync(one, Body("PO-IDEM-4", quantity: 1), cancellationToken, key);
        var second = await driver.SubmitAcceptedAsync(two, Body("PO-IDEM-4", quantity: 1), cancellationToken, key);

        second.ShouldNotBe(first);
        await ShouldHaveExactlyOneReservationAsync(one, first, cancellationToken);
        await ShouldHaveExactlyOneReservationAsync(two, second, cancellationToken);
    }

    [Fact]
    public async Task A_gRPC_submit_retried_with_the_same_idempotency_key_returns_the_same_reservation()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = NewBuyer("idem-grpc");
        using var channel = BrokeringSystem.GrpcChannelTo(system.Ordering);
        var reservations = new Reservations.ReservationsClient(channel);
        var request = new SubmitReservationRequest
        {
            IdempotencyKey = Guid.NewGuid().ToString(),
            BuyerReference = "PO-IDEM-5",
            EndUser = new EndUser { Name = "Acme Cloud Inc.", Country = "US" },
            DestinationCountry = "US",
            FillPolicy = FillPolicy.AllOrNone,
            Confirmation = Confirmation.Manual,
            Lines = { new GrpcReservationLine { Sku = Sku, Quantity = 2, MaxUnitPrice = 32_000m, Currency = "USD" } },
        };

        var first = await reservations.SubmitAsync(request, BrokeringSystem.BuyerMetadata(buyer), cancellationToken: cancellationToken);
        var retry = await reservations.SubmitAsync(request, BrokeringSystem.BuyerMetadata(buyer), cancellationToken: cancellationToken);

        retry.Id.ShouldBe(first.Id);
        await ShouldHaveExactlyOneReservationAsync(buyer, Guid.Parse(first.Id), cancellationToken);
    }

    private static string NewBuyer(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    private static object Body(string reference, long quantity) =>
        ScrambleDriver.Reservation(reference, "Acme Cloud Inc.", "AllOrNone", "Manual",
            [new Line(Sku, quantity, 32_000m)], destination: "US", endUserCountry: "US");

    /// <summary>
    /// Once the reservation has ended (no stock is published here, so all-or-none ends Rejected), any
    /// duplicate would long have had its saga too: ops must list exactly one for the buyer, and ordering
    /// must hold exactly one accepted reservation for it.
    /// </summary>
    private async Task ShouldHaveExactlyOneReservationAsync(string buyer, Guid id, CancellationToken cancellationToken)
    {
        await driver.WaitUntilEndedAsync(buyer, id, Patience, cancellationToken);
        (await system.OpsCountAsync(buyer, cancellationToken)).ShouldBe(1, $"ops should list exactly one saga for {buyer}");
        (await system.StoredReservationsAsync(buyer, cancellationToken)).ShouldBe(1, $"ordering should have accepted exactly one reservation for {buyer}");
    }
}
