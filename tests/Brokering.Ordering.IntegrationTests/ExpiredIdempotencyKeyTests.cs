using System.Net;
using System.Text;
using System.Text.Json;
using Brokering.Contracts.Grpc.Ordering;
using Brokering.Ordering.Idempotency;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using GrpcReservations = Brokering.Contracts.Grpc.Ordering.Reservations;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// An Idempotency-Key's record lapses after a day, but the reservation it made does not, and its id is derived from the
/// key: a retry after the record expired found the key free, tried to store a second reservation under the same id and
/// answered 500 (a whole bulk call with it). The reservation decides instead: the same request replays it, another is a
/// reused key, through every way in.
/// </summary>
public sealed class ExpiredIdempotencyKeyTests(ExpiredIdempotencyKeyTests.KestrelHost host) : IClassFixture<ExpiredIdempotencyKeyTests.KestrelHost>
{
    [Fact]
    public async Task A_key_whose_record_expired_replays_its_reservation_for_the_same_body_and_refuses_another_body_as_reused()
    {
        var buyer = Sagas.NewBuyer("expired-single");
        using var first = await SubmitAsync(buyer, "late", BulkSubmissionTests.Item(null, "PO-LATE"));
        first.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await ExpireAsync(buyer, "late");

        using var retry = await SubmitAsync(buyer, "late", BulkSubmissionTests.Item(null, "PO-LATE"));
        using var changed = await SubmitAsync(buyer, "late", BulkSubmissionTests.Item(null, "PO-LATE", quantity: "3"));

        var text = await retry.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        retry.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        using (var json = JsonDocument.Parse(text))
        {
            json.RootElement.GetProperty("id").GetGuid().ShouldBe(IdempotencyStore.ReservationIdFor(buyer, "late"));
        }

        retry.Headers.Location!.ToString().ShouldBe($"/v1/reservations/{IdempotencyStore.ReservationIdFor(buyer, "late")}");
        changed.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity, await changed.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        (await ReservationCountAsync(buyer)).ShouldBe(1);
    }

    // A retry need not be byte for byte: a client library that writes its numbers or a SKU's case differently on the
    // second try sends the same reservation, and was told 422, key reused, for a reservation that had been taken.
    [Theory]
    [InlineData("\"maxUnitPrice\":1,", "\"maxUnitPrice\":1.00,")]
    [InlineData("\"sku\":\"NVIDIA-H20\"", "\"sku\":\"nvidia-h20\"")]
    [InlineData("\"name\":\"Acme\"", "\"name\":\"Acme \"")]
    [InlineData("\"kind\":\"AllOrNone\"}", "\"kind\":\"AllOrNone\",\"minFillRatio\":1}")]
    public async Task A_retry_written_differently_that_says_the_same_replays_the_reservation(string written, string rewritten)
    {
        var buyer = Sagas.NewBuyer("rewritten");
        var body = BulkSubmissionTests.Item(null, "PO-REWRITTEN");
        body.ShouldContain(written);
        using var first = await SubmitAsync(buyer, "rewritten", body);
        first.StatusCode.ShouldBe(HttpStatusCode.Accepted);

        using var retry = await SubmitAsync(buyer, "rewritten", body.Replace(written, rewritten, StringComparison.Ordinal));
        using var changed = await SubmitAsync(buyer, "rewritten", BulkSubmissionTests.Item(null, "PO-REWRITTEN", quantity: "3"));

        var text = await retry.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        retry.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        using (var json = JsonDocument.Parse(text))
        {
            json.RootElement.GetProperty("id").GetGuid().ShouldBe(IdempotencyStore.ReservationIdFor(buyer, "rewritten"));
        }

        changed.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity, await changed.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        (await ReservationCountAsync(buyer)).ShouldBe(1);
    }

    [Fact]
    public async Task A_bulk_item_whose_key_expired_is_replayed_or_refused_on_its_own_as_JSON_and_as_CSV()
    {
        var buyer = Sagas.NewBuyer("expired-bulk");
        using (var first = await BulkSubmissionTests.PostBulkAsync(host, buyer,
            $"[{BulkSubmissionTests.Item("j-same", "PO-J1")}, {BulkSubmissionTests.Item("j-other", "PO-J2")}, {BulkSubmissionTests.Item("c-same", "PO-C1")}, {BulkSubmissionTests.Item("c-other", "PO-C2")}]",
            "application/json"))
        {
            first.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        foreach (var key in new[] { "j-same", "j-other", "c-same", "c-other" })
        {
            await ExpireAsync(buyer, key);
        }

        using var json = await BulkAsync(buyer,
            $"[{BulkSubmissionTests.Item("j-same", "PO-J1")}, {BulkSubmissionTests.Item("j-other", "PO-J2", quantity: "5")}, {BulkSubmissionTests.Item("j-new", "PO-J3")}]",
            "application/json");
        using var csv = await BulkAsync(buyer, """
            idempotencyKey,buyerReference,endUserName,endUserCountry,destinationCountry,fillPolicy,minFillRatio,confirmation,sku,quantity,maxUnitPrice,currency
            c-same,PO-C1,Acme,US,US,AllOrNone,,Manual,NVIDIA-H20,2,1,USD
            c-other,PO-C2-CHANGED,Acme,US,US,AllOrNone,,Manual,NVIDIA-H20,2,1,USD
            """, "text/csv");

        BulkSubmissionTests.Results(json).Select(r => (r.GetProperty("outcome").GetString(), r.GetProperty("status").GetInt32()))
            .ShouldBe([("Replayed", 202), ("KeyReused", 422), ("Accepted", 202)]);
        BulkSubmissionTests.Results(json)[0].GetProperty("id").GetGuid().ShouldBe(IdempotencyStore.ReservationIdFor(buyer, "j-same"));
        BulkSubmissionTests.Results(csv).Select(r => (r.GetProperty("outcome").GetString(), r.GetProperty("status").GetInt32()))
            .ShouldBe([("Replayed", 202), ("KeyReused", 422)]);
        BulkSubmissionTests.Results(csv)[0].GetProperty("id").GetGuid().ShouldBe(IdempotencyStore.ReservationIdFor(buyer, "c-same"));
        (await ReservationCountAsync(buyer)).ShouldBe(5);
    }

    [Fact]
    public async Task Over_gRPC_a_key_whose_record_expired_replays_its_reservation_and_refuses_another_request_in_Submit_and_SubmitMany()
    {
        var buyer = Sagas.NewBuyer("expired-grpc");
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        var client = new GrpcReservations.ReservationsClient(channel);
        var headers = new Metadata { { "Authorization", $"Bearer {TestTokens.Buyer(buyer)}" } };
        var cancellationToken = TestContext.Current.CancellationToken;
        var first = await client.SubmitAsync(GrpcItem("g-single", quantity: 2), headers, cancellationToken: cancellationToken);
        await client.SubmitManyAsync(new SubmitManyRequest { Reservations = { GrpcItem("g-many", quantity: 2), GrpcItem("g-many-other", quantity: 2) } },
            headers, cancellationToken: cancellationToken);
        foreach (var key in new[] { "g-single", "g-many", "g-many-other" })
        {
            await ExpireAsync(buyer, key);
        }

        var replayed = await client.SubmitAsync(GrpcItem("g-single", quantity: 2), headers, cancellationToken: cancellationToken);
        var reused = await Should.ThrowAsync<RpcException>(async () =>
            await client.SubmitAsync(GrpcItem("g-single", quantity: 9), headers, cancellationToken: cancellationToken));
        var many = await client.SubmitManyAsync(new SubmitManyRequest { Reservations = { GrpcItem("g-many", quantity: 2), GrpcItem("g-many-other", quantity: 9) } },
            headers, cancellationToken: cancellationToken);

        replayed.Id.ShouldBe(first.Id);
        reused.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        many.Results.Select(r => r.Outcome).ShouldBe([SubmitOutcome.Replayed, SubmitOutcome.KeyReused]);
        many.Results[0].ReservationId.ShouldBe(IdempotencyStore.ReservationIdFor(buyer, "g-many").ToString());
        (await ReservationCountAsync(buyer)).ShouldBe(3);
    }

    private static SubmitReservationRequest GrpcItem(string key, long quantity) => new()
    {
        IdempotencyKey = key,
        BuyerReference = $"PO-{key}",
        EndUser = new EndUser { Name = "Acme", Country = "US" },
        DestinationCountry = "US",
        FillPolicy = FillPolicy.AllOrNone,
        Confirmation = Confirmation.Manual,
        Lines = { new ReservationLine { Sku = "NVIDIA-H20", Quantity = quantity, MaxUnitPrice = 1m, Currency = "USD" } },
    };

    /// <summary>Makes the key's record a day and a minute old, as the clock would.</summary>
    private async Task ExpireAsync(string buyer, string key)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        var expired = await db.Database.ExecuteSqlInterpolatedAsync($"""
            UPDATE idempotency_records SET created_at = now() - interval '1 day 1 minute', expires_at = now() - interval '1 minute'
            WHERE buyer_id = {buyer} AND key = {key}
            """, TestContext.Current.CancellationToken);
        expired.ShouldBe(1);
    }

    private async Task<int> ReservationCountAsync(string buyer)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        return await db.Reservations.CountAsync(r => r.BuyerId == buyer, TestContext.Current.CancellationToken);
    }

    private async Task<HttpResponseMessage> SubmitAsync(string buyer, string key, string body)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    private async Task<JsonDocument> BulkAsync(string buyer, string body, string contentType)
    {
        using var response = await BulkSubmissionTests.PostBulkAsync(host, buyer, body, contentType);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonDocument.Parse(text);
    }

    /// <summary>Ordering on Kestrel, so it can be called over gRPC as well as REST.</summary>
    public sealed class KestrelHost() : OrderingHost(kestrel: true);
}
