using System.Net;
using System.Text;
using System.Text.Json;
using Brokering.Contracts.Grpc.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using GrpcReservations = Brokering.Contracts.Grpc.Ordering.Reservations;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Bulk submission (<c>POST /v1/reservations/bulk</c>), as JSON and as CSV: each item is submitted as a single
/// submission would be and answered on its own, so valid items are stored beside invalid ones, a repeated call
/// replays instead of duplicating, the items' keys are the single submission's keys, and the whole call is refused
/// only when it cannot be read or carries more than the bound.
/// </summary>
public sealed class BulkSubmissionTests(BulkSubmissionTests.KestrelHost host) : IClassFixture<BulkSubmissionTests.KestrelHost>
{
    [Fact]
    public async Task A_bulk_of_valid_and_invalid_items_stores_each_valid_one_and_refuses_each_invalid_one_with_its_own_field_paths()
    {
        var buyer = Sagas.NewBuyer("bulk-mixed");
        var body = $"""
            [{Item("k0", "PO-0")},
             {Item("k1", "PO-1", quantity: "0")},
             {Item("k2", "PO-2")},
             {Item("k3", "PO-3", quantity: "\"ten\"")},
             {Item(null, "PO-4")},
             {Item("k5", "PO-5", sku: "NVIDIA-H800-SXM5-80GB\",\"bogus\":\"x")}]
            """;

        using var answer = await BulkAsync(buyer, body, "application/json");

        var results = Results(answer);
        results.Select(r => r.GetProperty("outcome").GetString()).ShouldBe(["Accepted", "Invalid", "Accepted", "Invalid", "Invalid", "Invalid"]);
        results.Select(r => r.GetProperty("status").GetInt32()).ShouldBe([202, 400, 202, 400, 400, 400]);
        ErrorPaths(results[1]).ShouldBe(["items[1].lines[0].quantity"]);
        ErrorPaths(results[3]).ShouldBe(["items[3].lines[0].quantity"]);
        ErrorPaths(results[4]).ShouldBe(["items[4].idempotencyKey"]);
        ErrorPaths(results[5]).ShouldAllBe(path => path.StartsWith("items[5]", StringComparison.Ordinal));
        (answer.RootElement.GetProperty("accepted").GetInt32(), answer.RootElement.GetProperty("refused").GetInt32()).ShouldBe((2, 4));

        var accepted = new[] { results[0], results[2] }.Select(r => r.GetProperty("id").GetGuid()).ToList();
        (await ListedIdsAsync(buyer)).Order().ShouldBe(accepted.Order(), "only the valid items were stored");
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var followed = JsonDocument.Parse(await client.GetStringAsync(
            new Uri(results[2].GetProperty("location").GetString()!, UriKind.Relative), TestContext.Current.CancellationToken));
        followed.RootElement.GetProperty("buyerReference").GetString().ShouldBe("PO-2");
    }

    [Fact]
    public async Task An_item_giving_its_idempotency_key_twice_is_refused_for_it_without_either_key_echoed()
    {
        var buyer = Sagas.NewBuyer("bulk-twice");
        var body = $"[{Item("k-first", "PO-T").Replace("\"idempotencyKey\":\"k-first\"", "\"idempotencyKey\":\"k-first\",\"idempotencyKey\":\"k-second\"", StringComparison.Ordinal)}, {Item("k-ok", "PO-OK")}]";

        using var answer = await BulkAsync(buyer, body, "application/json");

        var results = Results(answer);
        results.Select(r => r.GetProperty("outcome").GetString()).ShouldBe(["Invalid", "Accepted"]);
        ErrorPaths(results[0]).ShouldBe(["items[0].idempotencyKey"]);
        results[0].GetProperty("idempotencyKey").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task Sending_a_bulk_again_replays_each_item_a_changed_item_is_refused_as_a_reused_key_and_nothing_is_stored_twice()
    {
        var buyer = Sagas.NewBuyer("bulk-replay");
        var body = $"[{Item("r0", "PO-R0")}, {Item("r1", "PO-R1")}, {Item("r2", "PO-R2")}]";
        using var first = await BulkAsync(buyer, body, "application/json");
        var ids = Results(first).Select(r => r.GetProperty("id").GetGuid()).ToList();

        using var again = await BulkAsync(buyer, $"[{Item("r0", "PO-R0")}, {Item("r1", "PO-R1", quantity: "7")}, {Item("r2", "PO-R2")}]", "application/json");

        var replayed = Results(again);
        replayed.Select(r => r.GetProperty("outcome").GetString()).ShouldBe(["Replayed", "KeyReused", "Replayed"]);
        replayed.Select(r => r.GetProperty("status").GetInt32()).ShouldBe([202, 422, 202]);
        (replayed[0].GetProperty("id").GetGuid(), replayed[2].GetProperty("id").GetGuid()).ShouldBe((ids[0], ids[2]));
        (await ListedIdsAsync(buyer)).Order().ShouldBe(ids.Order());
    }

    [Fact]
    public async Task An_items_key_is_the_single_submissions_key_so_a_single_retry_of_it_replays_the_bulk_reservation()
    {
        var buyer = Sagas.NewBuyer("bulk-single");
        using var bulk = await BulkAsync(buyer, $"[{Item("shared", "PO-S")}]", "application/json");
        var id = Results(bulk)[0].GetProperty("id").GetGuid();

        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations") { Content = new StringContent(Item(null, "PO-S"), Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", "shared");
        using var single = await client.SendAsync(request, TestContext.Current.CancellationToken);

        single.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        using var json = JsonDocument.Parse(await single.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        json.RootElement.GetProperty("id").GetGuid().ShouldBe(id);
        (await ListedIdsAsync(buyer)).ShouldBe([id]);
    }

    [Fact]
    public async Task A_CSV_row_of_another_width_than_its_header_is_refused_by_its_row_while_the_rows_around_it_are_submitted()
    {
        var buyer = Sagas.NewBuyer("bulk-csv-width");
        const string csv = """
            idempotencyKey,buyerReference,endUserName,endUserCountry,destinationCountry,fillPolicy,minFillRatio,confirmation,sku,quantity,maxUnitPrice,currency
            w-a,PO-W-A,Acme Cloud, Inc.,US,US,AllOrNone,,Manual,NVIDIA-H20,1,900,USD
            w-b,PO-W-B,Acme,US,US,AllOrNone,,Manual,NVIDIA-H20,1,900
            w-c,PO-W-C,Acme,US,US,AllOrNone,,Manual,NVIDIA-H20,1,900,USD
            """;

        using var answer = await BulkAsync(buyer, csv, "text/csv");

        var results = Results(answer);
        results.Select(r => (r.GetProperty("idempotencyKey").GetString(), r.GetProperty("outcome").GetString()))
            .ShouldBe([("w-a", "Invalid"), ("w-b", "Invalid"), ("w-c", "Accepted")]);
        ErrorPaths(results[0]).ShouldBe(["items[0].lines[0]"], "an unquoted comma: 13 values");
        ErrorPaths(results[1]).ShouldBe(["items[1].lines[0]"], "a value left out: 11 values");
        results[1].GetProperty("errors").GetProperty("items[1].lines[0]")[0].GetString().ShouldStartWith("Row 3 has 11 values where the header has 12 columns");
    }

    [Fact]
    public async Task A_CSV_reservation_with_a_value_that_cannot_be_read_is_answered_with_every_other_error_it_has_as_well()
    {
        var buyer = Sagas.NewBuyer("bulk-csv-all-errors");
        var csv = CsvHeader + """

            all-a,PO-ALL-A,Acme,XX,US,AllOrNone,,Manual,NVIDIA-H20,ten,900,GBP
            all-a,,,,,,,,NVIDIA-H20,2,1.5.0,USD
            """;

        using var answer = await BulkAsync(buyer, csv, "text/csv");

        var result = Results(answer).ShouldHaveSingleItem();
        result.GetProperty("outcome").GetString().ShouldBe("Invalid");
        ErrorPaths(result).ShouldBe(
            ["items[0].endUser.country", "items[0].lines[0].currency", "items[0].lines[0].quantity", "items[0].lines[1].maxUnitPrice", "items[0].lines[1].sku"],
            ignoreOrder: true);
        var errors = result.GetProperty("errors");
        errors.GetProperty("items[0].lines[0].quantity")[0].GetString().ShouldBe("Not a whole number.", "the value that could not be read keeps its own reason");
        errors.GetProperty("items[0].lines[1].maxUnitPrice")[0].GetString()!.ShouldStartWith("Not a number");
    }

    [Theory]
    [InlineData("windows-1252")]
    [InlineData("ISO-8859-1")]
    [InlineData("\"latin1\"")]
    public async Task A_CSV_in_the_charset_it_names_is_read_in_it_so_an_accented_name_is_stored_and_screened_as_written(string charset)
    {
        var buyer = Sagas.NewBuyer("bulk-csv-charset");
        var csv = CsvHeader + "\nl1-a,PO-L1-A,Société Générale,FR,FR,AllOrNone,,Manual,NVIDIA-H20,1,900,USD\n";

        using var response = await PostBulkBytesAsync(buyer, Encoding.Latin1.GetBytes(csv), $"text/csv; charset={charset}");

        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var id = (await ListedIdsAsync(buyer)).ShouldHaveSingleItem();
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var view = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/reservations/{id}", UriKind.Relative), TestContext.Current.CancellationToken));
        view.RootElement.GetProperty("endUser").GetProperty("name").GetString().ShouldBe("Société Générale");
    }

    [Theory]
    [InlineData("text/csv", "Not UTF-8 text")]
    [InlineData("text/csv; charset=utf-8", "Not utf-8 text")]
    [InlineData("text/csv; charset=klingon", "Unknown charset 'klingon'")]
    public async Task A_CSV_that_is_not_text_in_its_charset_is_refused_whole_instead_of_stored_with_replacement_characters(string contentType, string reason)
    {
        var buyer = Sagas.NewBuyer("bulk-csv-not-utf8");
        var csv = CsvHeader + "\nl1-b,PO-L1-B,Société Générale,FR,FR,AllOrNone,,Manual,NVIDIA-H20,1,900,USD\n";

        using var response = await PostBulkBytesAsync(buyer, Encoding.Latin1.GetBytes(csv), contentType);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        problem.RootElement.GetProperty("errors").GetProperty("body")[0].GetString()!.ShouldStartWith(reason);
        (await ListedIdsAsync(buyer)).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("utf-16")]
    [InlineData("windows-1252")]
    [InlineData("\"iso-8859-1\"")]
    public async Task A_JSON_bulk_in_the_charset_it_names_is_read_in_it_so_an_accented_name_is_stored_as_written(string charset)
    {
        var buyer = Sagas.NewBuyer("bulk-json-charset");
        var json = $"[{Item("j1", "PO-J1").Replace("\"name\":\"Acme\"", "\"name\":\"Société Générale\"", StringComparison.Ordinal)}]";
        var encoding = charset == "utf-16" ? Encoding.Unicode : Encoding.Latin1;

        using var response = await PostBulkBytesAsync(buyer, encoding.GetBytes(json), $"application/json; charset={charset}");

        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        using var answer = JsonDocument.Parse(text);
        Results(answer).Single().GetProperty("outcome").GetString().ShouldBe("Accepted", text);
        var id = (await ListedIdsAsync(buyer)).ShouldHaveSingleItem();
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var view = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/reservations/{id}", UriKind.Relative), TestContext.Current.CancellationToken));
        view.RootElement.GetProperty("endUser").GetProperty("name").GetString().ShouldBe("Société Générale");
    }

    [Fact]
    public async Task A_JSON_bulk_that_is_not_text_in_the_charset_it_names_is_refused_whole_saying_so()
    {
        var buyer = Sagas.NewBuyer("bulk-json-not-utf8");
        var json = $"[{Item("j2", "PO-J2").Replace("\"name\":\"Acme\"", "\"name\":\"Société Générale\"", StringComparison.Ordinal)}]";

        using var response = await PostBulkBytesAsync(buyer, Encoding.Latin1.GetBytes(json), "application/json; charset=utf-8");

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        problem.RootElement.GetProperty("errors").GetProperty("body")[0].GetString()!.ShouldStartWith("Not utf-8 text");
        (await ListedIdsAsync(buyer)).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_CSV_upload_makes_one_reservation_per_idempotency_key_from_its_rows_and_answers_each_with_its_rows()
    {
        var buyer = Sagas.NewBuyer("bulk-csv");
        const string csv = """
            idempotencyKey,buyerReference,endUserName,endUserCountry,destinationCountry,fillPolicy,minFillRatio,confirmation,sku,quantity,maxUnitPrice,currency
            csv-a,PO-CSV-A,"Acme Cloud, Inc.",US,US,AllowPartial,0.5,Manual,NVIDIA-H800-SXM5-80GB,40,32000.50,USD
            csv-b,PO-CSV-B,Acme,US,US,AllOrNone,,Manual,NVIDIA-H20,ten,1,USD
            csv-a,,,,,,,,NVIDIA-H20,5,1000,USD
            csv-c,PO-CSV-C,Acme,US,US,AllOrNone,,Auto,NVIDIA-H20,3,900,USD
            csv-d,PO-CSV-D,Acme,US,US,AllOrNone,,Manual,NVIDIA-H20,0,900,USD
            """;

        using var answer = await BulkAsync(buyer, csv, "text/csv");

        var results = Results(answer);
        results.Select(r => (r.GetProperty("idempotencyKey").GetString(), r.GetProperty("outcome").GetString()))
            .ShouldBe([("csv-a", "Accepted"), ("csv-b", "Invalid"), ("csv-c", "Accepted"), ("csv-d", "Invalid")]);
        results.Select(r => r.GetProperty("rows").EnumerateArray().Select(row => row.GetInt32()).ToList())
            .ShouldBe([[2, 4], [3], [5], [6]]);
        ErrorPaths(results[1]).ShouldBe(["items[1].lines[0].quantity"]);
        ErrorPaths(results[3]).ShouldBe(["items[3].lines[0].quantity"], "validated as a single submission is");

        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var reservation = JsonDocument.Parse(await client.GetStringAsync(
            new Uri($"/v1/reservations/{results[0].GetProperty("id").GetGuid()}", UriKind.Relative), TestContext.Current.CancellationToken));
        var view = reservation.RootElement;
        (view.GetProperty("endUser").GetProperty("name").GetString(), view.GetProperty("fillPolicy").GetString(), view.GetProperty("minFillRatio").GetDecimal())
            .ShouldBe(("Acme Cloud, Inc.", "AllowPartial", 0.5m));
        view.GetProperty("lines").EnumerateArray()
            .Select(line => (line.GetProperty("sku").GetString(), line.GetProperty("quantity").GetInt64(), line.GetProperty("maxUnitPrice").GetDecimal()))
            .ShouldBe([("NVIDIA-H800-SXM5-80GB", 40L, 32000.50m), ("NVIDIA-H20", 5L, 1000m)]);
    }

    [Theory]
    [InlineData("idempotencyKey,buyerReference,sku,quantity\nk,PO,NVIDIA-H20,1", "text/csv", "header")]
    [InlineData("idempotencyKey,colour\nk,red", "text/csv", "header")]
    [InlineData("{\"not\":\"an array\"}", "application/json", "items")]
    [InlineData("[", "application/json", "body")]
    [InlineData("[]", "application/json", "items")]
    public async Task A_body_that_cannot_be_read_as_a_whole_is_refused_whole_naming_what_is_wrong(string body, string contentType, string field)
    {
        var buyer = Sagas.NewBuyer("bulk-unreadable");

        using var response = await PostBulkAsync(buyer, body, contentType);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        problem.RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name).ShouldBe([field]);
    }

    [Fact]
    public async Task A_body_without_a_Content_Type_is_refused_415_as_another_media_type_is_and_none_is_stored()
    {
        var buyer = Sagas.NewBuyer("bulk-no-type");
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes($"[{Item("n0", "PO-N0")}]"));

        using var response = await PostBulkAsync(host, buyer, content);

        response.StatusCode.ShouldBe(HttpStatusCode.UnsupportedMediaType, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        (await ListedIdsAsync(buyer)).ShouldBeEmpty();
    }

    [Fact]
    public async Task More_reservations_than_the_bound_are_refused_whole_and_none_is_stored()
    {
        var buyer = Sagas.NewBuyer("bulk-bound");
        var body = $"[{string.Join(",", Enumerable.Range(0, 101).Select(i => Item($"b{i}", $"PO-B{i}")))}]";

        using var response = await PostBulkAsync(buyer, body, "application/json");

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        problem.RootElement.GetProperty("errors").GetProperty("items")[0].GetString()!.ShouldContain("At most 100");
        (await ListedIdsAsync(buyer)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Over_gRPC_SubmitMany_answers_each_reservation_on_its_own_and_a_second_call_replays_the_accepted_one()
    {
        var buyer = Sagas.NewBuyer("bulk-grpc");
        var request = new SubmitManyRequest
        {
            Reservations =
            {
                GrpcItem("g0", quantity: 2), GrpcItem("g1", quantity: 0), GrpcItem(string.Empty, quantity: 2),
                // A ratio under one beside all-or-none says two policies at once; one itself says nothing more.
                GrpcItem("g3", quantity: 2, allOrNoneRatio: 0.5m), GrpcItem("g4", quantity: 2, allOrNoneRatio: 1m),
            },
        };

        var first = await SubmitManyAsync(request, buyer);
        var again = await SubmitManyAsync(new SubmitManyRequest { Reservations = { GrpcItem("g0", quantity: 2) } }, buyer);

        first.Results.Select(r => r.Outcome).ShouldBe([SubmitOutcome.Accepted, SubmitOutcome.Invalid, SubmitOutcome.Invalid, SubmitOutcome.Invalid, SubmitOutcome.Accepted]);
        first.Results[1].Errors.Keys.ShouldBe(["reservations[1].lines[0].quantity"]);
        first.Results[2].Errors.Keys.ShouldBe(["reservations[2].idempotencyKey"]);
        first.Results[3].Errors.Keys.ShouldBe(["reservations[3].fillPolicy.minFillRatio"]);
        again.Results.Single().Outcome.ShouldBe(SubmitOutcome.Replayed);
        again.Results.Single().ReservationId.ShouldBe(first.Results[0].ReservationId);
        (await ListedIdsAsync(buyer)).ShouldBe([Guid.Parse(first.Results[0].ReservationId), Guid.Parse(first.Results[4].ReservationId)], ignoreOrder: true);

        var tooMany = new SubmitManyRequest();
        tooMany.Reservations.AddRange(Enumerable.Range(0, 101).Select(i => GrpcItem($"many-{i}", quantity: 1)));
        var refused = await Should.ThrowAsync<RpcException>(() => SubmitManyAsync(tooMany, buyer));
        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refused.Status.Detail.ShouldStartWith("reservations:");
        (await ListedIdsAsync(buyer)).Count.ShouldBe(2, "a refused call stores nothing");
    }

    private static SubmitReservationRequest GrpcItem(string key, long quantity, decimal? allOrNoneRatio = null) => new()
    {
        MinFillRatio = allOrNoneRatio is { } ratio ? ratio : null,
        IdempotencyKey = key,
        BuyerReference = $"PO-{key}",
        EndUser = new EndUser { Name = "Acme", Country = "US" },
        DestinationCountry = "US",
        FillPolicy = FillPolicy.AllOrNone,
        Confirmation = Confirmation.Manual,
        Lines = { new ReservationLine { Sku = "NVIDIA-H20", Quantity = quantity, MaxUnitPrice = 1m, Currency = "USD" } },
    };

    private async Task<SubmitManyResponse> SubmitManyAsync(SubmitManyRequest request, string buyer)
    {
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        return await new GrpcReservations.ReservationsClient(channel).SubmitManyAsync(
            request, new Metadata { { "Authorization", $"Bearer {TestTokens.Buyer(buyer)}" } }, cancellationToken: TestContext.Current.CancellationToken);
    }

    /// <summary>A submit body with its idempotency key (none when <paramref name="key"/> is null); <paramref name="quantity"/> is raw JSON.</summary>
    internal static string Item(string? key, string reference, string quantity = "2", string sku = "NVIDIA-H20") =>
        $$"""
        {{{(key is null ? "" : $"\"idempotencyKey\":\"{key}\",")}}"buyerReference":"{{reference}}","endUser":{"name":"Acme","country":"US"},
         "destinationCountry":"US","fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
         "lines":[{"sku":"{{sku}}","quantity":{{quantity}},"maxUnitPrice":1,"currency":"USD"}]}
        """;

    internal static List<JsonElement> Results(JsonDocument answer) => [.. answer.RootElement.GetProperty("results").EnumerateArray()];

    private static List<string> ErrorPaths(JsonElement result) => [.. result.GetProperty("errors").EnumerateObject().Select(e => e.Name)];

    private async Task<JsonDocument> BulkAsync(string buyer, string body, string contentType)
    {
        using var response = await PostBulkAsync(buyer, body, contentType);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonDocument.Parse(text);
    }

    private const string CsvHeader =
        "idempotencyKey,buyerReference,endUserName,endUserCountry,destinationCountry,fillPolicy,minFillRatio,confirmation,sku,quantity,maxUnitPrice,currency";

    private Task<HttpResponseMessage> PostBulkBytesAsync(string buyer, byte[] body, string contentType)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return PostBulkAsync(host, buyer, content);
    }

    private Task<HttpResponseMessage> PostBulkAsync(string buyer, string body, string contentType) =>
        PostBulkAsync(host, buyer, body, contentType);

    internal static Task<HttpResponseMessage> PostBulkAsync(OrderingHost host, string buyer, string body, string contentType) =>
        PostBulkAsync(host, buyer, new StringContent(body, Encoding.UTF8, contentType));

    private static async Task<HttpResponseMessage> PostBulkAsync(OrderingHost host, string buyer, HttpContent content)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        return await client.PostAsync(new Uri("/v1/reservations/bulk", UriKind.Relative), content, TestContext.Current.CancellationToken);
    }

    private async Task<List<Guid>> ListedIdsAsync(string buyer)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var page = JsonDocument.Parse(await client.GetStringAsync(new Uri("/v1/reservations?limit=200", UriKind.Relative), TestContext.Current.CancellationToken));
        return [.. page.RootElement.GetProperty("reservations").EnumerateArray().Select(r => r.GetProperty("id").GetGuid())];
    }

    /// <summary>Ordering on Kestrel, so bulk submission can be called over gRPC as well as REST.</summary>
    public sealed class KestrelHost() : OrderingHost(kestrel: true);
}

/// <summary>Each item of a bulk submission is charged to the caller's rate limit as a single submission would be.</summary>
public sealed class BulkRateLimitTests(OnePerSecondOrderingHost host) : IClassFixture<OnePerSecondOrderingHost>
{
    [Fact]
    public async Task Items_beyond_the_callers_budget_are_each_refused_429_and_stored_nothing_while_the_items_before_are_accepted()
    {
        var buyer = Sagas.NewBuyer("bulk-budget");
        // Sixty items on a budget of one a second with a burst of two: the call would have to take a minute for them all
        // to fit (forty on five a second did fit once, when a loaded machine took more than six seconds over them).
        var body = $"[{string.Join(",", Enumerable.Range(0, 60).Select(i => BulkSubmissionTests.Item($"rl{i}", $"PO-RL{i}")))}]";

        using var response = await BulkSubmissionTests.PostBulkAsync(host, buyer, body, "application/json");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var results = BulkSubmissionTests.Results(answer);
        results[0].GetProperty("outcome").GetString().ShouldBe("Accepted", "the request paid for its first item");
        var limited = results.Where(r => r.GetProperty("outcome").GetString() == "RateLimited").ToList();
        limited.ShouldNotBeEmpty("sixty items cannot fit a budget of one a second with a burst of two");
        limited.ShouldAllBe(r => r.GetProperty("status").GetInt32() == 429);
        var accepted = results.Count(r => r.GetProperty("outcome").GetString() == "Accepted");
        (accepted + limited.Count).ShouldBe(60);

        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        (await db.Reservations.CountAsync(r => r.BuyerId == buyer, TestContext.Current.CancellationToken)).ShouldBe(accepted, "an item refused for the budget stores nothing");
    }
}
