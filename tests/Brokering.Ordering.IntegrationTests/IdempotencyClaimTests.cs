using System.Net;
using System.Text;
using System.Text.Json;
using Brokering.Ordering.Idempotency;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Reservations;
using Brokering.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// An Idempotency-Key claimed by a request whose process then died (kill -9 between claim and answer; found by
/// the fault suite) must not block the buyer's retries for the key's whole lifetime.
/// </summary>
public sealed class IdempotencyClaimTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private const string Body = """
        {"buyerReference":"PO-1","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
         "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
         "lines":[{"sku":"NVIDIA-H20","quantity":1,"maxUnitPrice":1,"currency":"USD"}]}
        """;

    [Fact]
    public async Task A_key_whose_claiming_request_died_is_taken_over_by_a_retry_once_the_lease_is_over()
    {
        var (buyer, key) = await ClaimAbandonedAsync(TimeSpan.FromMinutes(2));

        using var response = await SubmitAsync(buyer, key);

        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        using var json = JsonDocument.Parse(text);
        json.RootElement.GetProperty("id").GetGuid().ShouldBe(IdempotencyStore.ReservationIdFor(buyer, key));
        using var replay = await SubmitAsync(buyer, key);
        replay.StatusCode.ShouldBe(HttpStatusCode.Accepted, "a further retry replays the answer");
    }

    [Fact]
    public async Task Concurrent_requests_with_one_key_wait_for_the_first_and_all_answer_its_reservation_of_which_there_is_one()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = Sagas.NewBuyer("claim-race");
        var key = Guid.NewGuid().ToString("N");

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var response = await SubmitAsync(buyer, key);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync(cancellationToken));
        }));

        answers.ShouldAllBe(answer => answer.StatusCode == HttpStatusCode.Accepted, string.Join("\n", answers));
        answers.Select(answer => JsonDocument.Parse(answer.Body).RootElement.GetProperty("id").GetGuid()).Distinct()
            .ShouldBe([IdempotencyStore.ReservationIdFor(buyer, key)]);
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        (await db.Reservations.CountAsync(r => r.BuyerId == buyer, cancellationToken)).ShouldBe(1);
    }

    [Fact]
    public async Task A_key_claimed_moments_ago_is_still_in_flight_for_a_retry()
    {
        var (buyer, key) = await ClaimAbandonedAsync(TimeSpan.Zero);

        using var response = await SubmitAsync(buyer, key);

        response.StatusCode.ShouldBe(HttpStatusCode.Conflict, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    /// <summary>
    /// Leaves a claim of a fresh key for <see cref="Body"/> as a request that died after claiming it would, made
    /// <paramref name="age"/> ago. The body's hash is taken from a completed submission of the same body.
    /// </summary>
    private async Task<(string Buyer, string Key)> ClaimAbandonedAsync(TimeSpan age)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var buyer = Sagas.NewBuyer("claim");
        var first = Guid.NewGuid().ToString("N");
        using (var response = await SubmitAsync(buyer, first))
        {
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        }

        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        var completed = await db.IdempotencyRecords.AsNoTracking().SingleAsync(r => r.BuyerId == buyer && r.Key == first, cancellationToken);
        var key = Guid.NewGuid().ToString("N");
        var claimedAt = DateTimeOffset.UtcNow - age;
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO idempotency_records (buyer_id, key, endpoint, request_hash, created_at, expires_at)
            VALUES ({buyer}, {key}, {ReservationDesk.SubmitEndpoint}, {completed.RequestHash}, {claimedAt}, {claimedAt.AddDays(1)})
            """, cancellationToken);
        return (buyer, key);
    }

    private async Task<HttpResponseMessage> SubmitAsync(string buyer, string key)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
