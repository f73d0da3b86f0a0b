using System.Net;
using System.Text;
using System.Text.Json;
using Brokering.Contracts.Grpc.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using GrpcReservations = Brokering.Contracts.Grpc.Ordering.Reservations;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The buyer's list of its own reservations (<c>GET /v1/reservations</c> and <c>Reservations/List</c>): each filter
/// narrows to exactly what matches, pages follow one another by cursor without repeats or gaps while new reservations
/// arrive, another buyer organisation sees none of them whatever it passes, and bad input is refused naming the field.
/// </summary>
public sealed class ReservationListTests(ReservationListTests.KestrelHost host) : IClassFixture<ReservationListTests.KestrelHost>
{
    private const string H800 = "NVIDIA-H800-SXM5-80GB";
    private const string H20 = "NVIDIA-H20";

    private static readonly DateTimeOffset Start = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Each_filter_lists_exactly_the_callers_reservations_that_match_it_newest_first()
    {
        var buyer = Sagas.NewBuyer("list-filter");
        var a = await SeedAsync(buyer, "Held", "PO-A", H800, Start.AddMinutes(1));
        var b = await SeedAsync(buyer, "AwaitingStock", "PO-B", H20, Start.AddMinutes(2));
        var c = await SeedAsync(buyer, state: null, "PO-C", H800, Start.AddMinutes(3));
        var d = await SeedAsync(buyer, "Cancelled", "PO-A", H20, Start.AddMinutes(4));

        (await ListIdsAsync(buyer, "")).ShouldBe([d, c, b, a]);
        (await ListIdsAsync(buyer, "status=Held")).ShouldBe([a]);
        (await ListIdsAsync(buyer, "status=Held,AwaitingStock")).ShouldBe([b, a]);
        (await ListIdsAsync(buyer, "status=Held&status=Submitted")).ShouldBe([c, a], "a reservation the saga has not picked up yet reads as Submitted");
        (await ListIdsAsync(buyer, "buyerReference=PO-A")).ShouldBe([d, a]);
        (await ListIdsAsync(buyer, "buyerReference=po-a")).ShouldBeEmpty("the reference matches exactly");
        (await ListIdsAsync(buyer, "sku=nvidia-h800-sxm5-80gb")).ShouldBe([c, a], "a SKU matches in any spelling the catalogue accepts");
        (await ListIdsAsync(buyer, $"submittedFrom={Instant(Start.AddMinutes(2))}&submittedTo={Instant(Start.AddMinutes(4))}"))
            .ShouldBe([c, b], "from is inclusive, to exclusive");
        (await ListIdsAsync(buyer, $"status=Cancelled&sku={H20}&buyerReference=PO-A")).ShouldBe([d]);

        var page = await ListAsync(buyer, "buyerReference=PO-B");
        var view = page.RootElement.GetProperty("reservations").EnumerateArray().Single();
        (view.GetProperty("status").GetString(), view.GetProperty("buyerReference").GetString()).ShouldBe(("AwaitingStock", "PO-B"));
        page.RootElement.GetProperty("next").ValueKind.ShouldBe(JsonValueKind.Null, "one page holds them all");
    }

    [Fact]
    public async Task Paging_by_cursor_shows_every_reservation_once_in_order_while_new_ones_are_submitted_between_pages()
    {
        var buyer = Sagas.NewBuyer("list-pages");
        var before = new List<Guid>();
        for (var i = 0; i < 7; i++)
        {
            before.Add(await SubmitAsync(buyer, $"PO-PAGE-{i}"));
        }

        var paged = new List<Guid>();
        var arrived = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            using var page = await ListAsync(buyer, cursor is null ? "limit=3" : $"limit=3&cursor={cursor}");
            var ids = Ids(page);
            ids.Count.ShouldBeLessThanOrEqualTo(3);
            paged.AddRange(ids);
            cursor = page.RootElement.GetProperty("next").GetString();
            arrived.Add(await SubmitAsync(buyer, $"PO-NEW-{pages++}"));
        }
        while (cursor is not null);

        pages.ShouldBe(3);
        paged.ShouldBe(Enumerable.Reverse(before).ToList(), "newest first, each once, none missing; those submitted meanwhile are newer than the first page");
        (await ListIdsAsync(buyer, "limit=200")).ShouldBe([.. Enumerable.Reverse(arrived), .. Enumerable.Reverse(before)]);
    }

    [Fact]
    public async Task Reservations_submitted_at_the_same_instant_are_paged_by_id_without_loss_or_repeat()
    {
        var buyer = Sagas.NewBuyer("list-ties");
        var at = Start.AddHours(1);
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await SeedAsync(buyer, "Screening", $"PO-TIE-{i}", H800, at));
        }

        var paged = new List<Guid>();
        string? cursor = null;
        do
        {
            using var page = await ListAsync(buyer, cursor is null ? "limit=2" : $"limit=2&cursor={cursor}");
            paged.AddRange(Ids(page));
            cursor = page.RootElement.GetProperty("next").GetString();
        }
        while (cursor is not null);

        paged.Count.ShouldBe(5);
        paged.Order().ShouldBe(ids.Order());
    }

    [Fact]
    public async Task Another_buyer_organisation_lists_none_of_them_whatever_filter_or_cursor_it_passes_over_REST_or_gRPC()
    {
        var acme = Sagas.NewBuyer("list-acme");
        var rival = Sagas.NewBuyer("list-rival");
        for (var i = 0; i < 3; i++)
        {
            await SeedAsync(acme, "Held", "PO-SECRET", H800, Start.AddMinutes(i));
        }

        using var acmePage = await ListAsync(acme, "limit=1");
        var acmeCursor = acmePage.RootElement.GetProperty("next").GetString()!;
        Ids(acmePage).Count.ShouldBe(1);

        (await ListIdsAsync(rival, "")).ShouldBeEmpty();
        (await ListIdsAsync(rival, "buyerReference=PO-SECRET")).ShouldBeEmpty();
        (await ListIdsAsync(rival, $"cursor={acmeCursor}")).ShouldBeEmpty("another buyer's cursor positions a reader, it does not open that buyer's list");
        var overGrpc = await ListOverGrpcAsync(new ListReservationsRequest { BuyerReference = "PO-SECRET" }, rival);
        overGrpc.Reservations.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("status=Bogus", "status")]
    [InlineData("status=Held,held", "status")]
    [InlineData("cursor=garbage", "cursor")]
    [InlineData("cursor=AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "cursor")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("submittedFrom=2026-02-01T00:00:00Z&submittedTo=2026-01-01T00:00:00Z", "submittedFrom")]
    [InlineData("submittedTo=yesterday", "submittedTo")]
    [InlineData("sku=not%20a%20sku", "sku")]
    public async Task Bad_list_input_is_refused_as_a_problem_naming_the_parameter(string query, string parameter)
    {
        using var client = host.ClientWith(TestTokens.Buyer(Sagas.NewBuyer("list-bad")));

        using var response = await client.GetAsync(new Uri($"/v1/reservations?{query}", UriKind.Relative), TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        problem.RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name).ShouldBe([parameter], problem.RootElement.ToString());
    }

    [Fact]
    public async Task The_gRPC_list_pages_through_the_same_reservations_as_REST_with_the_same_filters()
    {
        var buyer = Sagas.NewBuyer("list-grpc");
        var held = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            held.Add(await SeedAsync(buyer, "Held", $"PO-G-{i}", H800, Start.AddMinutes(i)));
        }

        await SeedAsync(buyer, "Rejected", "PO-G-X", H800, Start.AddMinutes(10));
        await SeedAsync(buyer, "Held", "PO-G-Y", H800, Start.AddDays(1));

        var request = new ListReservationsRequest
        {
            Statuses = { "Held" },
            Sku = H800,
            SubmittedFrom = Timestamp.FromDateTimeOffset(Start),
            SubmittedTo = Timestamp.FromDateTimeOffset(Start.AddHours(1)),
            PageSize = 2,
        };
        var first = await ListOverGrpcAsync(request, buyer);
        request.PageToken = first.NextPageToken;
        var second = await ListOverGrpcAsync(request, buyer);

        var streamed = first.Reservations.Concat(second.Reservations).Select(r => Guid.Parse(r.Id)).ToList();
        streamed.ShouldBe(Enumerable.Reverse(held).ToList());
        second.NextPageToken.ShouldBeEmpty("the last page says so");
        first.Reservations[0].SubmittedAt.ToDateTimeOffset().ShouldBe(Start.AddMinutes(2));
        streamed.ShouldBe(await ListIdsAsync(buyer,
            $"status=Held&sku={H800}&submittedFrom={Instant(Start)}&submittedTo={Instant(Start.AddHours(1))}"));
    }

    [Theory]
    [InlineData("statuses", "Bogus", "", 0, false)]
    [InlineData("page_token", "", "garbage", 0, false)]
    [InlineData("page_size", "", "", 201, false)]
    [InlineData("page_size", "", "", -1, false)]
    [InlineData("submitted_from", "", "", 0, true)]
    public async Task Bad_gRPC_list_input_is_invalid_argument_naming_the_field(string field, string status, string pageToken, int pageSize, bool fromAfterTo)
    {
        var request = new ListReservationsRequest { PageToken = pageToken, PageSize = pageSize };
        if (status.Length > 0)
        {
            request.Statuses.Add(status);
        }

        if (fromAfterTo)
        {
            request.SubmittedFrom = Timestamp.FromDateTimeOffset(Start.AddDays(1));
            request.SubmittedTo = Timestamp.FromDateTimeOffset(Start);
        }

        var refused = await Should.ThrowAsync<RpcException>(async () => await ListOverGrpcAsync(request, Sagas.NewBuyer("list-grpc-bad")));

        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refused.Status.Detail.ShouldStartWith($"{field}:");
    }

    private async Task<Guid> SeedAsync(string buyer, string? state, string reference, string sku, DateTimeOffset submittedAt)
    {
        var saga = Sagas.In(state ?? "Screening", buyer, cutoff: null, sku: sku);
        saga.SubmittedAt = submittedAt;
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        db.Reservations.Add(Sagas.ReservationOf(saga, reference));
        if (state is not null)
        {
            db.Sagas.Add(saga);
        }

        await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        return saga.CorrelationId;
    }

    private async Task<Guid> SubmitAsync(string buyer, string reference)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        var body = $$"""
            {"buyerReference":"{{reference}}","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
             "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
             "lines":[{"sku":"{{H20}}","quantity":1,"maxUnitPrice":1,"currency":"USD"}]}
            """;
        using var response = await client.PostAsync(new Uri("/v1/reservations", UriKind.Relative),
            new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        return json.RootElement.GetProperty("id").GetGuid();
    }

    private async Task<JsonDocument> ListAsync(string buyer, string query)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var response = await client.GetAsync(new Uri($"/v1/reservations?{query}", UriKind.Relative), TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, body);
        return JsonDocument.Parse(body);
    }

    private async Task<List<Guid>> ListIdsAsync(string buyer, string query)
    {
        using var page = await ListAsync(buyer, query);
        return Ids(page);
    }

    private static List<Guid> Ids(JsonDocument page) =>
        [.. page.RootElement.GetProperty("reservations").EnumerateArray().Select(r => r.GetProperty("id").GetGuid())];

    private static string Instant(DateTimeOffset at) => Uri.EscapeDataString(at.ToString("O", System.Globalization.CultureInfo.InvariantCulture));

    private async Task<ListReservationsResponse> ListOverGrpcAsync(ListReservationsRequest request, string buyer)
    {
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        return await new GrpcReservations.ReservationsClient(channel).ListAsync(
            request, new Metadata { { "Authorization", $"Bearer {TestTokens.Buyer(buyer)}" } }, cancellationToken: TestContext.Current.CancellationToken);
    }

    /// <summary>Ordering on Kestrel, so the list can be read over gRPC as well as REST.</summary>
    public sealed class KestrelHost() : OrderingHost(kestrel: true);
}
