using System.Net;
using System.Text;
using System.Text.Json;
using Brokering.Ordering.Data;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Reservations;
using Brokering.Webhooks;
using Brokering.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The buyers' OpenAPI document tells the truth: each operation under <c>/v1/reservations</c> and
/// <c>/v1/webhooks</c> is called until it has
/// given every answer it can give, and the document must list exactly those statuses, each with the media type the
/// answer came in. A status the endpoint answers but the document leaves out fails, and so does one it promises but
/// the endpoint never gives, so a client generated from the document handles what it will get.
/// </summary>
public sealed class BuyerApiDocumentTests(SmallBudgetOrderingHost host) : IClassFixture<SmallBudgetOrderingHost>
{
    private const string Body = """
        {"buyerReference":"PO-DOC","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
         "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
         "lines":[{"sku":"NVIDIA-H20","quantity":1,"maxUnitPrice":1,"currency":"USD"}]}
        """;

    private const string OtherBody = """
        {"buyerReference":"PO-DOC-2","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
         "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
         "lines":[{"sku":"NVIDIA-H20","quantity":2,"maxUnitPrice":1,"currency":"USD"}]}
        """;

    [Fact]
    public async Task Every_buyer_operation_documents_exactly_the_statuses_and_media_types_its_endpoint_answers()
    {
        var observed = await ExerciseEveryOperationAsync();
        using var client = host.ClientWith(TestTokens.Buyer(Sagas.NewBuyer("doc-reader")));
        var document = await ApiDocument.ReadAsync(client, TestContext.Current.CancellationToken);
        var buyers = document.Operations.Keys.Where(IsBuyerOperation);

        buyers.Order().ShouldBe(observed.Keys.Order(), "every buyer operation in the document is exercised here, and only those");
        var failures = document.Undeclared(observed, exactly: true);
        failures.ShouldBeEmpty(string.Join("\n", failures));
    }

    [Fact]
    public async Task The_bulk_operation_documents_its_body_as_a_JSON_array_of_items_or_CSV_text()
    {
        using var client = host.ClientWith(TestTokens.Buyer(Sagas.NewBuyer("doc-body")));
        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative), TestContext.Current.CancellationToken));

        var content = document.RootElement.GetProperty("paths").GetProperty("/v1/reservations/bulk").GetProperty("post")
            .GetProperty("requestBody").GetProperty("content");

        content.GetProperty("application/json").GetProperty("schema").GetProperty("type").GetString().ShouldBe("array");
        content.GetProperty("text/csv").GetProperty("schema").GetProperty("type").GetString().ShouldBe("string");
    }

    /// <summary>Each operation's answers, keyed "METHOD /path" as the document names it.</summary>
    private async Task<Dictionary<string, List<ObservedAnswer>>> ExerciseEveryOperationAsync()
    {
        var observed = new Dictionary<string, List<ObservedAnswer>>(StringComparer.Ordinal);
        async Task<int> Call(string operation, string? token, HttpMethod method, string path, string? body = null, string? idempotencyKey = null,
            string contentType = "application/json")
        {
            using var client = host.ClientWith(token);
            using var request = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8, contentType);
            }

            if (idempotencyKey is not null)
            {
                request.Headers.Add("Idempotency-Key", idempotencyKey);
            }

            using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            var hasBody = (await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken)).Length > 0;
            var answers = observed.TryGetValue(operation, out var list) ? list : observed[operation] = [];
            answers.Add(new ObservedAnswer((int)response.StatusCode, hasBody ? response.Content.Headers.ContentType?.MediaType : null));
            return (int)response.StatusCode;
        }

        var cutoff = DateTimeOffset.UtcNow.AddHours(1);
        var unknown = Guid.NewGuid();
        var noTenant = TestTokens.Operator();

        // Every operation refuses the anonymous, the wrong role and a caller over its budget the same way.
        var flooded = Sagas.NewBuyer("doc-flood");
        async Task Refusals(string operation, HttpMethod method, string path, string? body = null)
        {
            await Call(operation, null, method, path, body);
            await Call(operation, noTenant, method, path, body);
            // A burst spends the budget faster than it refills, then the operation is tried; a refill in between just costs another burst.
            using var flooder = host.ClientWith(TestTokens.Buyer(flooded));
            for (var attempt = 0; attempt < 10; attempt++)
            {
                await Task.WhenAll(Enumerable.Range(0, 30).Select(async _ =>
                {
                    using var spent = await flooder.GetAsync(new Uri("/v1/reservations/changes?limit=0", UriKind.Relative), TestContext.Current.CancellationToken);
                }));
                await Call(operation, TestTokens.Buyer(flooded), method, path, body);
                if (observed[operation][^1].Status == StatusCodes.Status429TooManyRequests)
                {
                    break;
                }
            }
        }

        const string submit = "POST /v1/reservations";
        var submitter = TestTokens.Buyer(Sagas.NewBuyer("doc-submit"));
        var key = Guid.NewGuid().ToString("N");
        await Call(submit, submitter, HttpMethod.Post, "/v1/reservations", Body, idempotencyKey: key);
        await Call(submit, submitter, HttpMethod.Post, "/v1/reservations", Body, idempotencyKey: key);
        await Call(submit, submitter, HttpMethod.Post, "/v1/reservations", OtherBody, idempotencyKey: key);
        await Call(submit, submitter, HttpMethod.Post, "/v1/reservations", """{"lines":[]}""");
        await Call(submit, submitter, HttpMethod.Post, "/v1/reservations", Body, contentType: "text/plain");
        var (inFlightBuyer, inFlightKey) = await AbandonedClaimAsync();
        await Call(submit, TestTokens.Buyer(inFlightBuyer), HttpMethod.Post, "/v1/reservations", Body, idempotencyKey: inFlightKey);
        // A stale catalogue copy that does not list the SKU cannot vouch for it either way.
        host.Services.GetRequiredService<Catalogue.CatalogueCopy>().Replace(["NVIDIA-H800-SXM5-80GB"], DateTimeOffset.UtcNow.AddDays(-1));
        await Call(submit, submitter, HttpMethod.Post, "/v1/reservations", OtherBody, idempotencyKey: Guid.NewGuid().ToString("N"));
        TestCatalogue.LoadInto(host.Services);
        await Refusals(submit, HttpMethod.Post, "/v1/reservations", Body);

        const string bulk = "POST /v1/reservations/bulk";
        var bulkBuyer = TestTokens.Buyer(Sagas.NewBuyer("doc-bulk"));
        var items = $"[{BulkSubmissionTests.Item("doc-bulk-0", "PO-DOC-B0")}, {BulkSubmissionTests.Item(null, "PO-DOC-B1")}]";
        await Call(bulk, bulkBuyer, HttpMethod.Post, "/v1/reservations/bulk", items);
        await Call(bulk, bulkBuyer, HttpMethod.Post, "/v1/reservations/bulk", "[]");
        await Call(bulk, bulkBuyer, HttpMethod.Post, "/v1/reservations/bulk", items, contentType: "text/plain");
        await Refusals(bulk, HttpMethod.Post, "/v1/reservations/bulk", items);

        const string get = "GET /v1/reservations/{id}";
        var reader = Sagas.NewBuyer("doc-get");
        var screening = Sagas.In("Screening", reader, cutoff);
        await host.SeedAsync(screening);
        await Call(get, TestTokens.Buyer(reader), HttpMethod.Get, $"/v1/reservations/{screening.CorrelationId}");
        await Call(get, TestTokens.Buyer(reader), HttpMethod.Get, $"/v1/reservations/{unknown}");
        await Refusals(get, HttpMethod.Get, $"/v1/reservations/{unknown}");

        const string list = "GET /v1/reservations";
        await Call(list, TestTokens.Buyer(reader), HttpMethod.Get, "/v1/reservations?status=Screening");
        await Call(list, TestTokens.Buyer(reader), HttpMethod.Get, "/v1/reservations?status=Bogus");
        await Refusals(list, HttpMethod.Get, "/v1/reservations");

        const string changes = "GET /v1/reservations/changes";
        await Call(changes, TestTokens.Buyer(reader), HttpMethod.Get, "/v1/reservations/changes");
        await Call(changes, TestTokens.Buyer(reader), HttpMethod.Get, "/v1/reservations/changes?limit=0");
        await Refusals(changes, HttpMethod.Get, "/v1/reservations/changes");

        const string confirm = "POST /v1/reservations/{id}/confirm";
        var confirmer = Sagas.NewBuyer("doc-confirm");
        var held = Sagas.In("Held", confirmer, cutoff, distributors: "arrow");
        var stillScreening = Sagas.In("Screening", confirmer, cutoff);
        await host.SeedAsync(held, stillScreening);
        await Call(confirm, TestTokens.Buyer(confirmer), HttpMethod.Post, $"/v1/reservations/{held.CorrelationId}/confirm");
        await Call(confirm, TestTokens.Buyer(confirmer), HttpMethod.Post, $"/v1/reservations/{stillScreening.CorrelationId}/confirm");
        await Call(confirm, TestTokens.Buyer(confirmer), HttpMethod.Post, $"/v1/reservations/{unknown}/confirm");
        await Refusals(confirm, HttpMethod.Post, $"/v1/reservations/{unknown}/confirm");

        const string cancel = "POST /v1/reservations/{id}/cancel";
        var canceller = Sagas.NewBuyer("doc-cancel");
        var open = Sagas.In("Screening", canceller, cutoff);
        var ended = Sagas.In("Cancelled", canceller, cutoff);
        await host.SeedAsync(open, ended);
        await Call(cancel, TestTokens.Buyer(canceller), HttpMethod.Post, $"/v1/reservations/{open.CorrelationId}/cancel", """{"reason":"doc"}""");
        await Call(cancel, TestTokens.Buyer(canceller), HttpMethod.Post, $"/v1/reservations/{ended.CorrelationId}/cancel", """{"reason":"doc"}""");
        await Call(cancel, TestTokens.Buyer(canceller), HttpMethod.Post, $"/v1/reservations/{open.CorrelationId}/cancel", $$"""{"reason":"{{new string('x', 501)}}"}""");
        await Call(cancel, TestTokens.Buyer(canceller), HttpMethod.Post, $"/v1/reservations/{unknown}/cancel", """{"reason":"doc"}""");
        await Call(cancel, TestTokens.Buyer(canceller), HttpMethod.Post, $"/v1/reservations/{open.CorrelationId}/cancel", """{"reason":"doc"}""",
            contentType: "text/plain");
        await Refusals(cancel, HttpMethod.Post, $"/v1/reservations/{unknown}/cancel", """{"reason":"doc"}""");

        await ExerciseWebhookOperationsAsync(Call, Refusals);
        return observed;
    }

    /// <summary>Every webhook subscription operation, until each has given every answer it can give.</summary>
    private async Task ExerciseWebhookOperationsAsync(
        Func<string, string?, HttpMethod, string, string?, string?, string, Task<int>> call,
        Func<string, HttpMethod, string, string?, Task> refusals)
    {
        const string root = "/v1/webhooks/subscriptions";
        var subscriber = Sagas.NewBuyer("doc-hooks");
        var token = TestTokens.Buyer(subscriber);
        var unknown = Guid.NewGuid();
        // The subscriber's own calls are never the ones over budget (other callers' are, in refusals): a 429 on the small
        // budget is waited out and the call made again, so how busy the machine is cannot leave an answer unobserved.
        async Task Call(string operation, HttpMethod method, string path, string? body = null, string contentType = "application/json")
        {
            while (await call(operation, token, method, path, body, null, contentType) == StatusCodes.Status429TooManyRequests)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
            }
        }
        string Subscription(int i) => $$"""{"url":"https://hooks.example.com/doc/{{i}}","eventTypes":["reservation.status_changed"]}""";

        const string create = "POST " + root;
        await Call(create, HttpMethod.Post, root, """{"url":"http://hooks.example.com/x","eventTypes":["reservation.status_changed"]}""");
        await Call(create, HttpMethod.Post, root, Subscription(0), contentType: "text/plain");
        var limit = new WebhookOptions().MaxSubscriptionsPerTenant;
        for (var i = 0; i <= limit; i++)
        {
            await Call(create, HttpMethod.Post, root, Subscription(i));
        }

        await refusals(create, HttpMethod.Post, root, Subscription(0));

        using var client = host.ClientWith(token);
        using var listed = await WithinBudgetAsync(() => client.GetAsync(new Uri(root, UriKind.Relative), TestContext.Current.CancellationToken));
        using var list = JsonDocument.Parse(await listed.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var ids = list.RootElement.GetProperty("subscriptions").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()).ToList();

        await Call("GET " + root, HttpMethod.Get, root);
        await refusals("GET " + root, HttpMethod.Get, root, null);

        foreach (var (operation, method, suffix) in new[]
        {
            ("GET " + root + "/{id}", HttpMethod.Get, ""),
            ("POST " + root + "/{id}/pause", HttpMethod.Post, "/pause"),
            ("POST " + root + "/{id}/resume", HttpMethod.Post, "/resume"),
            ("GET " + root + "/{id}/deliveries", HttpMethod.Get, "/deliveries"),
        })
        {
            await Call(operation, method, $"{root}/{ids[0]}{suffix}");
            await Call(operation, method, $"{root}/{unknown}{suffix}");
            await refusals(operation, method, $"{root}/{unknown}{suffix}", null);
        }

        await Call("GET " + root + "/{id}/deliveries", HttpMethod.Get, $"{root}/{ids[0]}/deliveries?limit=0");

        const string delete = "DELETE " + root + "/{id}";
        await Call(delete, HttpMethod.Delete, $"{root}/{ids[0]}");
        await Call(delete, HttpMethod.Delete, $"{root}/{ids[0]}");
        await refusals(delete, HttpMethod.Delete, $"{root}/{unknown}", null);

        // A change of the subscriber's own reservation makes a delivery to replay. Only one paused subscription is
        // left, so nothing is ever sent to the endpoints named here.
        foreach (var id in ids.Skip(2))
        {
            using var deleted = await WithinBudgetAsync(() => client.DeleteAsync(new Uri($"{root}/{id}", UriKind.Relative), TestContext.Current.CancellationToken));
            deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        }

        using (var paused = await WithinBudgetAsync(() => client.PostAsync(new Uri($"{root}/{ids[1]}/pause", UriKind.Relative), null, TestContext.Current.CancellationToken)))
        {
            paused.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        using (var submitted = await WithinBudgetAsync(() => client.PostAsync(new Uri("/v1/reservations", UriKind.Relative),
            new StringContent(Body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken)))
        {
            submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        }

        var delivery = await Eventually.Until(async () =>
        {
            using var response = await WithinBudgetAsync(() => client.GetAsync(new Uri($"{root}/{ids[1]}/deliveries", UriKind.Relative), TestContext.Current.CancellationToken));
            using var log = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            return log.RootElement.GetProperty("deliveries").EnumerateArray().Select(d => d.GetProperty("id").GetGuid()).FirstOrDefault();
        }, id => id != Guid.Empty, TimeSpan.FromSeconds(60), "a delivery to replay", interval: TimeSpan.FromMilliseconds(500));
        const string replay = "POST " + root + "/{id}/deliveries/{deliveryId}/replay";
        await Call(replay, HttpMethod.Post, $"{root}/{ids[1]}/deliveries/{delivery}/replay");
        await Call(replay, HttpMethod.Post, $"{root}/{ids[1]}/deliveries/{unknown}/replay");
        await refusals(replay, HttpMethod.Post, $"{root}/{unknown}/deliveries/{unknown}/replay", null);
    }

    /// <summary>
    /// Sends a request the test needs answered (not one it observes) on the small budget: a 429 is waited out as its
    /// Retry-After says and the request sent again, so how busy the machine was decides nothing.
    /// </summary>
    private static async Task<HttpResponseMessage> WithinBudgetAsync(Func<Task<HttpResponseMessage>> send)
    {
        while (true)
        {
            var response = await send();
            if (response.StatusCode != HttpStatusCode.TooManyRequests)
            {
                return response;
            }

            var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
            response.Dispose();
            await Task.Delay(wait, TestContext.Current.CancellationToken);
        }
    }

    private static bool IsBuyerOperation(string operation) =>
        operation.Contains(" /v1/reservations", StringComparison.Ordinal) || operation.Contains(" /v1/webhooks", StringComparison.Ordinal);

    /// <summary>A key claimed moments ago by a request that has not answered yet: a retry with it is told it is in flight.</summary>
    private async Task<(string Buyer, string Key)> AbandonedClaimAsync()
    {
        var buyer = Sagas.NewBuyer("doc-inflight");
        var completed = Guid.NewGuid().ToString("N");
        using (var client = host.ClientWith(TestTokens.Buyer(buyer)))
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations") { Content = new StringContent(Body, Encoding.UTF8, "application/json") })
        {
            request.Headers.Add("Idempotency-Key", completed);
            using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        }

        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        var hash = (await db.IdempotencyRecords.AsNoTracking().SingleAsync(r => r.BuyerId == buyer && r.Key == completed, TestContext.Current.CancellationToken)).RequestHash;
        var key = Guid.NewGuid().ToString("N");
        var now = DateTimeOffset.UtcNow;
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO idempotency_records (buyer_id, key, endpoint, request_hash, created_at, expires_at)
            VALUES ({buyer}, {key}, {ReservationDesk.SubmitEndpoint}, {hash}, {now}, {now.AddDays(1)})
            """, TestContext.Current.CancellationToken);
        return (buyer, key);
    }
}
