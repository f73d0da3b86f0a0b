using System.Net;
using System.Text;
using System.Text.Json;
using Brokering.Contracts.Grpc.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcReservations = Brokering.Contracts.Grpc.Ordering.Reservations;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Two buyer organisations, and every ordering endpoint a buyer may call tried by one with the other's ids and
/// idempotency keys (REST and gRPC alike, the list taken from the running service): the other's reservation is
/// answered exactly as a reservation that does not exist (404 / NOT_FOUND, the same problem), never listed, never
/// streamed, never replayed under its key, and left as it was.
/// </summary>
public sealed class CrossTenantMatrixTests(CrossTenantMatrixTests.KestrelHost host) : IClassFixture<CrossTenantMatrixTests.KestrelHost>
{
    private const string SubmitBody = """
        {"buyerReference":"PO-MATRIX","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
         "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
         "lines":[{"sku":"NVIDIA-H20","quantity":1,"maxUnitPrice":1,"currency":"USD"}]}
        """;

    private static readonly string[] Channels = ["rest", "bulk", "grpc", "many"];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_endpoint_a_buyer_may_call_refuses_another_buyers_reservations_as_if_they_did_not_exist()
    {
        var acme = Sagas.NewBuyer("matrix-acme");
        var rival = Sagas.NewBuyer("matrix-rival");
        var held = Sagas.In("Held", acme, cutoff: null, Sagas.Sku, 40, "arrow");
        await host.SeedAsync(held);
        var keys = Channels.ToDictionary(channel => channel, channel => $"matrix-{channel}-{Guid.NewGuid():N}");
        var acmes = new List<Guid> { held.CorrelationId };
        foreach (var key in keys.Values)
        {
            acmes.Add(await SubmitAsync(acme, key));
        }

        await WaitForOwnChangesAsync(acme, acmes[1]);
        var theirs = held.CorrelationId;
        var theirHook = await SubscribeAsync(acme, "https://hooks.acme.example/brokering");
        const string Hooks = "/v1/webhooks/subscriptions";

        var probes = new Dictionary<string, Func<Task>>
        {
            ["POST /v1/reservations/"] = async () =>
                acmes.ShouldNotContain(await SubmitAsync(rival, keys["rest"]), "another buyer's Idempotency-Key must not replay its reservation"),
            ["POST /v1/reservations/bulk"] = async () =>
            {
                using var answer = await PostAsync(rival, "/v1/reservations/bulk", $"[{BulkSubmissionTests.Item(keys["bulk"], "PO-MATRIX")}]");
                var result = BulkSubmissionTests.Results(answer).Single();
                result.GetProperty("outcome").GetString().ShouldBe("Accepted", "another buyer's key is no key of this buyer's");
                acmes.ShouldNotContain(result.GetProperty("id").GetGuid());
            },
            ["GET /v1/reservations/"] = async () =>
            {
                using var page = await GetAsync(rival, "/v1/reservations?limit=200");
                page.RootElement.GetProperty("reservations").EnumerateArray().Select(r => r.GetProperty("id").GetGuid()).ShouldNotContain(id => acmes.Contains(id));
                (await GetAsync(rival, $"/v1/reservations?buyerReference={Sagas.ReservationOf(held).BuyerReference}")).RootElement
                    .GetProperty("reservations").GetArrayLength().ShouldBe(0, "a filter naming the other buyer's reference finds nothing");
            },
            ["GET /v1/reservations/changes"] = async () =>
            {
                using var page = await GetAsync(rival, "/v1/reservations/changes?limit=1000");
                page.RootElement.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("reservationId").GetGuid()).ShouldNotContain(id => acmes.Contains(id));
            },
            ["GET /v1/reservations/{id:guid}"] = () => RefusedAsIfUnknownAsync(rival, HttpMethod.Get, "/v1/reservations/{0}", theirs, body: null),
            ["POST /v1/reservations/{id:guid}/confirm"] = () => RefusedAsIfUnknownAsync(rival, HttpMethod.Post, "/v1/reservations/{0}/confirm", theirs, body: null),
            ["POST /v1/reservations/{id:guid}/cancel"] = () => RefusedAsIfUnknownAsync(rival, HttpMethod.Post, "/v1/reservations/{0}/cancel", theirs, """{"reason":"matrix"}"""),
            ["POST /brokering.ordering.v1.Reservations/Submit"] = async () =>
            {
                var view = await Grpc(rival, (client, headers) => client.SubmitAsync(GrpcItem(keys["grpc"]), headers, cancellationToken: Cancel).ResponseAsync);
                acmes.ShouldNotContain(Guid.Parse(view.Id), "another buyer's idempotency_key must not replay its reservation");
            },
            ["POST /brokering.ordering.v1.Reservations/SubmitMany"] = async () =>
            {
                var answer = await Grpc(rival, (client, headers) =>
                    client.SubmitManyAsync(new SubmitManyRequest { Reservations = { GrpcItem(keys["many"]) } }, headers, cancellationToken: Cancel).ResponseAsync);
                answer.Results.Single().Outcome.ShouldBe(SubmitOutcome.Accepted, "another buyer's key is no key of this buyer's");
                acmes.ShouldNotContain(Guid.Parse(answer.Results.Single().ReservationId));
            },
            ["POST /brokering.ordering.v1.Reservations/List"] = async () =>
            {
                var page = await Grpc(rival, (client, headers) => client.ListAsync(new ListReservationsRequest { PageSize = 200 }, headers, cancellationToken: Cancel).ResponseAsync);
                page.Reservations.Select(r => Guid.Parse(r.Id)).ShouldNotContain(id => acmes.Contains(id));
            },
            ["POST /brokering.ordering.v1.Reservations/Changes"] = async () =>
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
                var page = await Grpc(rival, async (client, headers) =>
                {
                    using var call = client.Changes(new ChangesRequest(), headers, cancellationToken: stop.Token);
                    (await call.ResponseStream.MoveNext(stop.Token)).ShouldBeTrue("the first page is always sent");
                    var first = call.ResponseStream.Current;
                    await stop.CancelAsync();
                    return first;
                });
                page.Changes.Select(c => Guid.Parse(c.ReservationId)).ShouldNotContain(id => acmes.Contains(id));
            },
            ["POST /brokering.ordering.v1.Reservations/Get"] = () => GrpcRefusedAsIfUnknownAsync(rival, theirs, (client, id, headers) =>
                client.GetAsync(new GetReservationRequest { Id = id }, headers, cancellationToken: Cancel).ResponseAsync),
            ["POST /brokering.ordering.v1.Reservations/Confirm"] = () => GrpcRefusedAsIfUnknownAsync(rival, theirs, (client, id, headers) =>
                client.ConfirmAsync(new ConfirmReservationRequest { Id = id }, headers, cancellationToken: Cancel).ResponseAsync),
            ["POST /brokering.ordering.v1.Reservations/Cancel"] = () => GrpcRefusedAsIfUnknownAsync(rival, theirs, (client, id, headers) =>
                client.CancelAsync(new CancelReservationRequest { Id = id, Reason = "matrix" }, headers, cancellationToken: Cancel).ResponseAsync),
            ["POST /brokering.ordering.v1.Reservations/Watch"] = () => GrpcRefusedAsIfUnknownAsync(rival, theirs, async (client, id, headers) =>
            {
                using var call = client.Watch(new GetReservationRequest { Id = id }, headers, cancellationToken: Cancel);
                await call.ResponseStream.MoveNext(Cancel);
                return call.ResponseStream.Current;
            }),
            ["POST /v1/webhooks/subscriptions/"] = async () =>
                (await SubscribeAsync(rival, "https://hooks.acme.example/brokering")).ShouldNotBe(theirHook, "the same URL is a subscription of the rival's own"),
            ["GET /v1/webhooks/subscriptions/"] = async () =>
            {
                using var list = await GetAsync(rival, Hooks);
                list.RootElement.GetProperty("subscriptions").EnumerateArray().Select(h => h.GetProperty("id").GetGuid()).ShouldNotContain(theirHook);
            },
            ["GET /v1/webhooks/subscriptions/{id:guid}"] = () => RefusedAsIfUnknownAsync(rival, HttpMethod.Get, Hooks + "/{0}", theirHook, body: null),
            ["GET /v1/webhooks/subscriptions/{id:guid}/deliveries"] = () =>
                RefusedAsIfUnknownAsync(rival, HttpMethod.Get, Hooks + "/{0}/deliveries", theirHook, body: null),
            ["POST /v1/webhooks/subscriptions/{id:guid}/pause"] = () => RefusedAsIfUnknownAsync(rival, HttpMethod.Post, Hooks + "/{0}/pause", theirHook, body: null),
            ["POST /v1/webhooks/subscriptions/{id:guid}/resume"] = () => RefusedAsIfUnknownAsync(rival, HttpMethod.Post, Hooks + "/{0}/resume", theirHook, body: null),
            ["POST /v1/webhooks/subscriptions/{id:guid}/deliveries/{deliveryId:guid}/replay"] = () =>
                RefusedAsIfUnknownAsync(rival, HttpMethod.Post, Hooks + "/{0}/deliveries/" + Guid.CreateVersion7() + "/replay", theirHook, body: null),
            ["DELETE /v1/webhooks/subscriptions/{id:guid}"] = () => RefusedAsIfUnknownAsync(rival, HttpMethod.Delete, Hooks + "/{0}", theirHook, body: null),
        };

        var failures = await CrossTenantMatrix.VerifyAsync(
            host.Services, AuthorizationMatrixTests.Expected, probes, CrossTenantMatrix.ServiceDefaultsWithoutTenantData);

        failures.ShouldBeEmpty(string.Join("\n", failures));
        (await host.SagaAsync(theirs)).CurrentState.ShouldBe("Held", "the other buyer's confirm and cancel changed nothing");
        using var own = await GetAsync(acme, $"/v1/reservations/{theirs}");
        own.RootElement.GetProperty("status").GetString().ShouldBe("Held", "its own buyer still reads it");
        using var hook = await GetAsync(acme, $"{Hooks}/{theirHook}");
        hook.RootElement.GetProperty("state").GetString().ShouldBe("Active", "the other buyer's pause and delete changed nothing");
    }

    /// <summary>Subscribes the buyer to its reservations' status changes; returns the subscription's id.</summary>
    private async Task<Guid> SubscribeAsync(string buyer, string url)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var response = await client.PostAsync(new Uri("/v1/webhooks/subscriptions", UriKind.Relative),
            new StringContent($$"""{"url":"{{url}}","eventTypes":["reservation.status_changed"]}""", Encoding.UTF8, "application/json"), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        using var created = JsonDocument.Parse(text);
        return created.RootElement.GetProperty("subscription").GetProperty("id").GetGuid();
    }

    /// <summary>
    /// The other buyer's id and an id nobody has get the same answer: 404 problem+json with the same title and the
    /// same detail but for the id, so the answer tells nothing about whether the reservation exists.
    /// </summary>
    private async Task RefusedAsIfUnknownAsync(string caller, HttpMethod method, string path, Guid theirs, string? body)
    {
        var unknown = Guid.CreateVersion7();
        var forTheirs = await ProblemAsync(caller, method, string.Format(System.Globalization.CultureInfo.InvariantCulture, path, theirs), body, theirs);
        var forUnknown = await ProblemAsync(caller, method, string.Format(System.Globalization.CultureInfo.InvariantCulture, path, unknown), body, unknown);

        forTheirs.ShouldBe(forUnknown, "another buyer's reservation must be answered as one that does not exist");
        forTheirs.Status.ShouldBe(HttpStatusCode.NotFound);
    }

    private async Task<(HttpStatusCode Status, string? MediaType, string? Title, string? Detail)> ProblemAsync(
        string caller, HttpMethod method, string path, string? body, Guid id)
    {
        using var client = host.ClientWith(TestTokens.Buyer(caller));
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        request.Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await client.SendAsync(request, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        using var problem = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        string? Field(string name) => problem.RootElement.TryGetProperty(name, out var value) ? value.GetString()?.Replace(id.ToString(), "{id}", StringComparison.OrdinalIgnoreCase) : null;
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, Field("title"), Field("detail"));
    }

    private async Task GrpcRefusedAsIfUnknownAsync<T>(
        string caller, Guid theirs, Func<GrpcReservations.ReservationsClient, string, Metadata, Task<T>> call)
    {
        var unknown = Guid.CreateVersion7();
        var forTheirs = await Should.ThrowAsync<RpcException>(() => Grpc(caller, (client, headers) => call(client, theirs.ToString(), headers)));
        var forUnknown = await Should.ThrowAsync<RpcException>(() => Grpc(caller, (client, headers) => call(client, unknown.ToString(), headers)));

        (forTheirs.StatusCode, forTheirs.Status.Detail.Replace(theirs.ToString(), "{id}", StringComparison.OrdinalIgnoreCase))
            .ShouldBe((forUnknown.StatusCode, forUnknown.Status.Detail.Replace(unknown.ToString(), "{id}", StringComparison.OrdinalIgnoreCase)),
                "another buyer's reservation must be answered as one that does not exist");
        forTheirs.StatusCode.ShouldBe(StatusCode.NotFound);
    }

    private async Task<T> Grpc<T>(string buyer, Func<GrpcReservations.ReservationsClient, Metadata, Task<T>> call)
    {
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        return await call(new GrpcReservations.ReservationsClient(channel), new Metadata { { "Authorization", $"Bearer {TestTokens.Buyer(buyer)}" } });
    }

    private async Task<Guid> SubmitAsync(string buyer, string key)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/reservations", UriKind.Relative))
        {
            Content = new StringContent(SubmitBody, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await client.SendAsync(request, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("id").GetGuid();
    }

    private async Task<JsonDocument> PostAsync(string buyer, string path, string body)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var response = await client.PostAsync(new Uri(path, UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonDocument.Parse(text);
    }

    private async Task<JsonDocument> GetAsync(string buyer, string path)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonDocument.Parse(text);
    }

    // The other buyer's change feed can only prove something once this buyer's own feed has changes to leak.
    private async Task WaitForOwnChangesAsync(string buyer, Guid reservation) =>
        await Eventually.Until(
            async () =>
            {
                using var page = await GetAsync(buyer, "/v1/reservations/changes?limit=1000");
                return page.RootElement.GetProperty("changes").EnumerateArray().Any(c => c.GetProperty("reservationId").GetGuid() == reservation);
            },
            seen => seen,
            TimeSpan.FromSeconds(30),
            $"buyer {buyer}'s change feed to show reservation {reservation}");

    private static SubmitReservationRequest GrpcItem(string key) => new()
    {
        IdempotencyKey = key,
        BuyerReference = "PO-MATRIX",
        EndUser = new EndUser { Name = "Acme", Country = "US" },
        DestinationCountry = "US",
        FillPolicy = FillPolicy.AllOrNone,
        Confirmation = Confirmation.Manual,
        Lines = { new ReservationLine { Sku = "NVIDIA-H20", Quantity = 1, MaxUnitPrice = 1m, Currency = "USD" } },
    };

    /// <summary>Ordering on Kestrel, so every gRPC method can be called as well as every REST route.</summary>
    public sealed class KestrelHost() : OrderingHost(kestrel: true);
}
