using System.Diagnostics;
using System.Net;
using Brokering.Client;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using ClientReservation = Brokering.Client.Reservation;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The .NET buyer client (<c>clients/Brokering.Client</c>) against the real ordering service on real PostgreSQL and
/// RabbitMQ, with compliance and inventory stood in: what a procurement system would do with it, start to finish.
/// </summary>
public sealed class BuyerClientTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_buyer_submits_with_the_client_follows_the_change_feed_to_Held_confirms_and_follows_it_to_Confirmed()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var client = ClientFor(host, Sagas.NewBuyer("client-confirm"), out _);

        var submitted = await client.SubmitAsync(Order("PO-CLIENT-1"), cancellationToken: Ct);
        var again = await client.SubmitAsync(Order("PO-CLIENT-1"), submitted.IdempotencyKey, Ct);

        again.Id.ShouldBe(submitted.Id, "the same key and body answer with the same reservation");
        submitted.IdempotencyKey.ShouldNotBeNullOrWhiteSpace();
        using var following = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        following.CancelAfter(Patience);
        var seen = new List<ReservationChange>();
        await foreach (var change in client.ChangesAsync(cancellationToken: following.Token))
        {
            seen.Add(change);
            if (change.ReservationId == submitted.Id && change.To == ReservationStatus.Held)
            {
                break;
            }
        }

        (await client.ConfirmAsync(submitted.Id, Ct)).Status.ShouldBe(ReservationStatus.Confirming);
        await foreach (var change in client.ChangesAsync(seen[^1].Cursor, following.Token))
        {
            seen.Add(change);
            if (change.To == ReservationStatus.Confirmed)
            {
                break;
            }
        }

        seen.ShouldAllBe(change => change.ReservationId == submitted.Id, "one reservation was submitted, once");
        seen.Select(change => change.To).ShouldBe([ReservationStatus.Screening, ReservationStatus.Allocating, ReservationStatus.Held,
            ReservationStatus.Confirming, ReservationStatus.Confirmed]);
        var confirmed = await client.GetAsync(submitted.Id, Ct);
        confirmed.Status.ShouldBe(ReservationStatus.Confirmed);
        confirmed.Lines.Single().Allocated.ShouldBe(4);
        dependencies.Inventory.HoldsOf(submitted.Id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Committed);
    }

    [Fact]
    public async Task A_buyer_cancels_with_the_client_and_finds_the_reservation_by_its_reference_ended_Cancelled()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var client = ClientFor(host, Sagas.NewBuyer("client-cancel"), out _);
        var submitted = await client.SubmitAsync(Order("PO-CLIENT-CANCEL"), cancellationToken: Ct);
        await client.SubmitAsync(Order("PO-CLIENT-OTHER"), cancellationToken: Ct);

        await host.ReachesAsync(submitted.Id, "Held");
        (await client.CancelAsync(submitted.Id, "Project postponed.", Ct)).Id.ShouldBe(submitted.Id);

        var cancelled = await Eventually.Until(
            () => client.GetAsync(submitted.Id, Ct), r => r.Status == ReservationStatus.Cancelled, Patience, "the reservation Cancelled");
        cancelled.IsFinal.ShouldBeTrue();
        var found = await client.ListAsync(new ReservationFilter(BuyerReference: "PO-CLIENT-CANCEL"), cancellationToken: Ct);
        found.Reservations.Select(r => (r.Id, r.Status)).ShouldBe([(submitted.Id, ReservationStatus.Cancelled)]);
        found.Next.ShouldBeNull();
        var all = new List<ClientReservation>();
        await foreach (var reservation in client.ListAllAsync(cancellationToken: Ct))
        {
            all.Add(reservation);
        }

        all.Select(r => r.BuyerReference).Order().ShouldBe(["PO-CLIENT-CANCEL", "PO-CLIENT-OTHER"]);
    }

    [Fact]
    public async Task A_bulk_submission_with_the_client_answers_each_reservation_on_its_own_and_sent_again_with_its_keys_replays_them()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var client = ClientFor(host, Sagas.NewBuyer("client-bulk"), out _);
        var bad = Order("PO-BULK-BAD") with { Lines = [new NewReservationLine(StandInCompliance.Sku, 0, 20_000m, "USD")] };
        NewReservation[] orders = [Order("PO-BULK-1"), bad, Order("PO-BULK-2")];

        var first = await client.SubmitBulkAsync(orders, cancellationToken: Ct);

        (first.Accepted, first.Replayed, first.Refused).ShouldBe((2, 0, 1));
        first.Results.Select(r => (r.Index, r.Outcome)).ShouldBe([(0, BulkOutcome.Accepted), (1, BulkOutcome.Invalid), (2, BulkOutcome.Accepted)],
            "one refused reservation does not refuse the others");
        first.Results[1].Errors.ShouldNotBeNull().Keys.ShouldBe(["items[1].lines[0].quantity"]);
        first.Results.Select(r => r.IdempotencyKey).Distinct().Count().ShouldBe(3, "the client made each reservation a key of its own");
        var again = await client.SubmitBulkAsync([orders[0], orders[2]], [first.Results[0].IdempotencyKey!, first.Results[2].IdempotencyKey!], Ct);
        again.Results.Select(r => (r.Outcome, r.Id)).ShouldBe([(BulkOutcome.Replayed, first.Results[0].Id), (BulkOutcome.Replayed, first.Results[2].Id)],
            "the same keys answer with the same reservations");
        (await client.GetAsync(first.Results[2].Id!.Value, Ct)).BuyerReference.ShouldBe("PO-BULK-2");
        var all = new List<ClientReservation>();
        await foreach (var reservation in client.ListAllAsync(cancellationToken: Ct))
        {
            all.Add(reservation);
        }

        all.Select(r => r.BuyerReference).Order().ToList().ShouldBe(["PO-BULK-1", "PO-BULK-2"], "two reservations, though three were sent and two sent twice");
    }

    [Fact]
    public async Task A_spreadsheet_uploaded_with_the_client_answers_each_reservation_with_its_rows_and_a_lost_answer_is_sent_again_without_doubling()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var buyer = Sagas.NewBuyer("client-csv");
        // The first upload reaches the service and is stored; its answer is replaced by a 503 on the way back.
        var lossy = new AnswerLostOnce(host);
        var client = new BuyerClient(new HttpClient(lossy) { BaseAddress = host.Server.BaseAddress }, _ => ValueTask.FromResult(TestTokens.Buyer(buyer)),
            new BrokeringClientOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50) });
        var sku = StandInCompliance.Sku;
        var csv = $"""
            idempotencyKey,buyerReference,endUserName,endUserCountry,destinationCountry,fillPolicy,confirmation,sku,quantity,maxUnitPrice,currency
            csv-1,PO-CSV-1,Lion City Compute Pte. Ltd.,SG,SG,AllOrNone,Manual,{sku},4,20000,USD
            csv-2,PO-CSV-2,Lion City Compute Pte. Ltd.,SG,SG,AllOrNone,Manual,{sku},3,20000,USD
            csv-3,PO-CSV-3,"Lion City Compute, Pte. Ltd.",SG,SG,AllOrNone,Auto,{sku},1,20000.50,USD
            csv-2,,,,,,,{sku},0,20000,USD
            """;

        var answer = await client.SubmitCsvAsync(csv, Ct);

        lossy.Posts.ShouldBe(2, "the upload whose answer was lost was sent again");
        (answer.Accepted + answer.Replayed, answer.Refused).ShouldBe((2, 1));
        answer.Results.Select(r => (r.IdempotencyKey, r.Outcome, string.Join(",", r.Rows ?? []))).ShouldBe(
        [
            ("csv-1", BulkOutcome.Replayed, "2"),
            ("csv-2", BulkOutcome.Invalid, "3,5"),
            ("csv-3", BulkOutcome.Replayed, "4"),
        ], "the second attempt replays what the first stored; each result names its rows");
        answer.Results[1].Errors.ShouldNotBeNull().Keys.ShouldContain("items[1].lines[1].quantity", "the key's second row is its second line");
        (await client.GetAsync(answer.Results[0].Id!.Value, Ct)).Lines.Select(l => l.Quantity).ShouldBe([4L]);
        (await client.GetAsync(answer.Results[2].Id!.Value, Ct)).EndUser.Name.ShouldBe("Lion City Compute, Pte. Ltd.");
        var listed = await client.ListAsync(cancellationToken: Ct);
        listed.Reservations.Select(r => r.BuyerReference).Order().ToList().ShouldBe(["PO-CSV-1", "PO-CSV-3"], "two reservations, though the file was sent twice");

        var unreadable = await Should.ThrowAsync<BrokeringApiException>(() => client.SubmitCsvAsync("idempotencyKey,colour\nk,blue\n", Ct));
        unreadable.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        unreadable.Errors.Keys.ShouldContain("header");
    }

    [Fact]
    public async Task A_submission_whose_answer_is_lost_is_sent_again_with_its_key_and_makes_one_reservation()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var buyer = Sagas.NewBuyer("client-lost");
        // The first attempt reaches the service and is stored; its answer is replaced by a 503 on the way back.
        var flaky = new FlakyHandler(host, answerLost: 1, refusedUnread: 0);
        var client = new BuyerClient(new HttpClient(flaky) { BaseAddress = host.Server.BaseAddress }, _ => ValueTask.FromResult(TestTokens.Buyer(buyer)),
            new BrokeringClientOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50) });

        var submitted = await client.SubmitAsync(Order("PO-CLIENT-LOST"), cancellationToken: Ct);

        flaky.Keys.Count.ShouldBe(2);
        flaky.Keys.Distinct().ShouldBe([submitted.IdempotencyKey], "the retry carries the first attempt's key");
        var listed = await client.ListAsync(new ReservationFilter(BuyerReference: "PO-CLIENT-LOST"), cancellationToken: Ct);
        listed.Reservations.Select(r => r.Id).ShouldBe([submitted.Id], "one reservation, though the service was sent it twice");
    }

    [Fact]
    public async Task A_submission_refused_with_429_waits_as_long_as_Retry_After_asks_before_it_is_sent_again()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var buyer = Sagas.NewBuyer("client-429");
        var flaky = new FlakyHandler(host, answerLost: 0, refusedUnread: 1, retryAfter: TimeSpan.FromSeconds(2));
        var client = new BuyerClient(new HttpClient(flaky) { BaseAddress = host.Server.BaseAddress }, _ => ValueTask.FromResult(TestTokens.Buyer(buyer)),
            new BrokeringClientOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(10) });

        var submitted = await client.SubmitAsync(Order("PO-CLIENT-429"), cancellationToken: Ct);

        flaky.Sent.Count.ShouldBe(2);
        (flaky.Sent[1] - flaky.Sent[0]).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1.9));
        (await client.GetAsync(submitted.Id, Ct)).BuyerReference.ShouldBe("PO-CLIENT-429");
    }

    [Fact]
    public async Task An_invalid_submission_surfaces_as_a_typed_exception_naming_the_bad_field_by_its_path()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var client = ClientFor(host, Sagas.NewBuyer("client-invalid"), out var calls);
        var bad = Order("PO-CLIENT-BAD") with { Lines = [new NewReservationLine(StandInCompliance.Sku, 0, 20_000m, "USD")] };

        var refusal = await Should.ThrowAsync<BrokeringApiException>(() => client.SubmitAsync(bad, cancellationToken: Ct));

        refusal.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        refusal.Problem.ShouldNotBeNull().Status.ShouldBe(400);
        refusal.Errors.Keys.ShouldBe(["lines[0].quantity"]);
        refusal.Message.ShouldContain("lines[0].quantity");
        calls().ShouldBe(1, "a refusal of the input is not retried");
    }

    [Fact]
    public async Task Confirming_a_reservation_the_buyer_does_not_have_is_a_404_with_the_service_s_problem()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies);
        var client = ClientFor(host, Sagas.NewBuyer("client-404"), out _);

        var refusal = await Should.ThrowAsync<BrokeringApiException>(() => client.ConfirmAsync(Guid.NewGuid(), Ct));

        refusal.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        refusal.Problem!.Title.ShouldBe("Reservation not found.");
    }

    private static NewReservation Order(string reference) => new(
        reference,
        new EndUser("Lion City Compute Pte. Ltd.", "SG"),
        "SG",
        FillPolicy.AllOrNone,
        ConfirmationMode.Manual,
        [new NewReservationLine(StandInCompliance.Sku, 4, 20_000m, "USD")]);

    /// <summary>A client for <paramref name="buyer"/> on the in-process host; <paramref name="tokenCalls"/> counts the tokens asked for.</summary>
    private static BuyerClient ClientFor(OrderingHost host, string buyer, out Func<int> tokenCalls)
    {
        var calls = 0;
        tokenCalls = () => calls;
        return new BuyerClient(host.CreateClient(), _ =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult(TestTokens.Buyer(buyer));
        }, new BrokeringClientOptions { ChangePollInterval = TimeSpan.FromMilliseconds(200), RetryBaseDelay = TimeSpan.FromMilliseconds(50) });
    }

    /// <summary>Passes every request to the host; the first POST's answer is lost on the way back (a 503 in its place).</summary>
    private sealed class AnswerLostOnce(OrderingHost host) : DelegatingHandler(host.Server.CreateHandler())
    {
        public int Posts { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.Method == HttpMethod.Post && ++Posts == 1)
            {
                response.StatusCode.ShouldBe(HttpStatusCode.OK, "the lost answer was the service's answer to the whole upload");
                response.Dispose();
                return new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
            }

            return response;
        }
    }

    /// <summary>
    /// Between the client and the service: the first <paramref name="refusedUnread"/> attempts are answered 429 without
    /// reaching the service, and the next <paramref name="answerLost"/> reach it but their answer is replaced by a 503.
    /// </summary>
    private sealed class FlakyHandler(OrderingHost host, int answerLost, int refusedUnread, TimeSpan? retryAfter = null) : DelegatingHandler(host.Server.CreateHandler())
    {
        private int attempts;

        public List<string> Keys { get; } = [];

        public List<TimeSpan> Sent { get; } = [];

        private readonly Stopwatch clock = Stopwatch.StartNew();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var attempt = ++attempts;
            if (request.Method == HttpMethod.Post)
            {
                Keys.Add(request.Headers.GetValues("Idempotency-Key").Single());
                Sent.Add(clock.Elapsed);
            }

            if (attempt <= refusedUnread)
            {
                var refused = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
                refused.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(retryAfter ?? TimeSpan.FromSeconds(1));
                return refused;
            }

            var response = await base.SendAsync(request, cancellationToken);
            if (attempt <= refusedUnread + answerLost)
            {
                response.StatusCode.ShouldBe(HttpStatusCode.Accepted, "the lost answer was an acceptance");
                response.Dispose();
                return new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
            }

            return response;
        }
    }
}
