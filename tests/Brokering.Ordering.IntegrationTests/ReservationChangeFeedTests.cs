using System.Net;
using System.Text;
using System.Text.Json;
using Brokering.Contracts.Grpc.Ordering;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Npgsql;
using Brokering.Ordering.Data;
using ChangeCursor = Brokering.Ordering.Reservations.Changes.ChangeCursor;
using StoredChange = Brokering.Ordering.Reservations.Changes.ReservationChange;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using GrpcReservations = Brokering.Contracts.Grpc.Ordering.Reservations;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>Ordering on a Kestrel port, so the change feed can be read over gRPC as well as REST.</summary>
public sealed class ChangeFeedHost() : OrderingHost(kestrel: true);

/// <summary>
/// The buyers' change feed (<c>GET /v1/reservations/changes</c> and <c>Reservations/Changes</c>), fed by the real
/// saga: a submission moves its reservation to Screening (compliance is not running, so it stays there) and the
/// buyer's cancel ends it Cancelled. A buyer reads its own changes in one order, resumes from any cursor, and never
/// sees another buyer's; a change committed late behind one already read is not skipped.
/// </summary>
public sealed class ReservationChangeFeedTests(ChangeFeedHost host) : IClassFixture<ChangeFeedHost>
{
    private const string Body = """
        {"buyerReference":"PO-FEED","endUser":{"name":"Acme","country":"US"},"destinationCountry":"US",
         "fillPolicy":{"kind":"AllOrNone"},"confirmation":"Manual",
         "lines":[{"sku":"NVIDIA-H20","quantity":1,"maxUnitPrice":1,"currency":"USD"}]}
        """;

    /// <summary>A bound on waiting for the saga; reached only if the feed never shows what it should.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_buyer_reads_each_reservations_transitions_in_the_order_they_happened_and_the_same_order_on_every_read()
    {
        var buyer = Sagas.NewBuyer("feed-order");
        var first = await SubmitAndCancelAsync(buyer);
        var second = await SubmitAndCancelAsync(buyer);

        var changes = await ReadUntilAsync(buyer, count: 4);

        changes.Select(c => c.ReservationId).Distinct().Order().ShouldBe(new[] { first, second }.Order());
        foreach (var id in new[] { first, second })
        {
            changes.Where(c => c.ReservationId == id).Select(c => $"{c.From}→{c.To}")
                .ShouldBe(["Submitted→Screening", "Screening→Cancelled"]);
        }

        changes.Select(c => c.Cursor).Distinct().Count().ShouldBe(4);
        (await ReadAllAsync(buyer, cursor: null)).ShouldBe(changes, "a second read from the start gives the same changes in the same order");
    }

    [Fact]
    public async Task Resuming_from_any_change_s_cursor_gives_exactly_the_changes_after_it_and_paging_one_by_one_gives_them_all()
    {
        var buyer = Sagas.NewBuyer("feed-resume");
        await SubmitAndCancelAsync(buyer);
        await SubmitAndCancelAsync(buyer);
        var all = await ReadUntilAsync(buyer, count: 4);

        for (var i = 0; i < all.Count; i++)
        {
            (await ReadAllAsync(buyer, all[i].Cursor)).ShouldBe(all.Skip(i + 1).ToList(), $"after change {i}");
        }

        var paged = new List<Change>();
        string? cursor = null;
        while (true)
        {
            var page = await ReadPageAsync(buyer, cursor, limit: 1);
            page.Changes.Count.ShouldBeLessThanOrEqualTo(1);
            paged.AddRange(page.Changes);
            if (page.Changes.Count == 0)
            {
                page.Next.ShouldBe(cursor ?? page.Next, "an empty page hands the cursor back");
                break;
            }

            page.Next.ShouldBe(page.Changes[^1].Cursor);
            cursor = page.Next;
        }

        paged.ShouldBe(all);
    }

    [Fact]
    public async Task A_buyer_never_sees_another_buyers_changes()
    {
        var acme = Sagas.NewBuyer("feed-acme");
        var rival = Sagas.NewBuyer("feed-rival");
        var acmes = await SubmitAndCancelAsync(acme);
        var rivals = await SubmitAndCancelAsync(rival);

        var acmeChanges = await ReadUntilAsync(acme, count: 2);
        var rivalChanges = await ReadUntilAsync(rival, count: 2);

        acmeChanges.ShouldAllBe(c => c.ReservationId == acmes);
        rivalChanges.ShouldAllBe(c => c.ReservationId == rivals);
        (await ReadAllAsync(rival, acmeChanges[0].Cursor)).ShouldAllBe(c => c.ReservationId == rivals,
            "another buyer's cursor positions a reader, it does not open that buyer's feed");
    }

    [Fact]
    public async Task A_change_committed_after_a_later_numbered_one_is_still_read_by_a_reader_who_already_passed_that_one()
    {
        var buyer = Sagas.NewBuyer("feed-late");
        var (early, late) = (Guid.NewGuid(), Guid.NewGuid());
        await using var slow = await OpenAsync();
        await using var slowTransaction = await slow.BeginTransactionAsync();
        await InsertChangeAsync(slow, slowTransaction, early, buyer, "Screening"); // takes the lower position, commits last
        await using (var fast = await OpenAsync())
        {
            await InsertChangeAsync(fast, null, late, buyer, "Screening");
        }

        var whileOpen = await ReadPageAsync(buyer, cursor: null, limit: 100);
        whileOpen.Changes.ShouldBeEmpty("a change of a transaction younger than one still open is not served yet");
        await slowTransaction.CommitAsync();

        var after = await ReadUntilAsync(buyer, count: 2, whileOpen.Next);
        after.Select(c => c.ReservationId).ShouldBe([early, late]);
    }

    [Fact]
    public async Task A_reservations_changes_keep_the_order_they_were_made_in_even_when_the_later_ones_transaction_is_older()
    {
        var buyer = Sagas.NewBuyer("feed-xid");
        var reservation = Guid.NewGuid();
        await using var older = await OpenAsync();
        await using var olderTransaction = await older.BeginTransactionAsync();
        await using (var takeId = new NpgsqlCommand("SELECT pg_current_xact_id()", older, olderTransaction))
        {
            await takeId.ExecuteScalarAsync(); // a saga step's inbox row takes its id before it waits for the saga row
        }

        await using (var younger = await OpenAsync())
        {
            await InsertChangeAsync(younger, null, reservation, buyer, "Screening");
        }

        await InsertChangeAsync(older, olderTransaction, reservation, buyer, "Cancelled", from: "Screening");
        await olderTransaction.CommitAsync();

        var changes = await ReadUntilAsync(buyer, count: 2);
        changes.Select(c => c.To).ShouldBe(["Screening", "Cancelled"]);
    }

    [Fact]
    public async Task Changes_ordering_saves_together_keep_their_order_and_follow_the_reservations_earlier_changes_even_from_an_older_transaction()
    {
        var buyer = Sagas.NewBuyer("feed-save");
        var reservation = Guid.NewGuid();
        using var olderScope = host.Services.CreateScope();
        var older = olderScope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        await using var olderTransaction = await older.Database.BeginTransactionAsync();
        await older.Database.ExecuteSqlRawAsync("SELECT pg_current_xact_id()"); // its id is taken before the younger one's

        using (var youngerScope = host.Services.CreateScope())
        {
            var younger = youngerScope.ServiceProvider.GetRequiredService<OrderingDbContext>();
            younger.ReservationChanges.AddRange(Stored(reservation, buyer, "Submitted", "Screening"), Stored(reservation, buyer, "Screening", "Allocating"));
            await younger.SaveChangesAsync(); // no transaction of its own: the save opens one
        }

        older.ReservationChanges.AddRange(
            Stored(reservation, buyer, "Allocating", "Held"), Stored(reservation, buyer, "Held", "Confirming"), Stored(reservation, buyer, "Confirming", "Confirmed"));
        await older.SaveChangesAsync();
        older.ChangeTracker.Entries().ShouldBeEmpty("written changes are not tracked, so a second save does not write them again");
        await older.SaveChangesAsync();
        await olderTransaction.CommitAsync();

        var changes = await ReadUntilAsync(buyer, count: 5);
        changes.Select(c => c.To).ShouldBe(["Screening", "Allocating", "Held", "Confirming", "Confirmed"]);
        (await ReadAllAsync(buyer, cursor: null)).Count.ShouldBe(5);
    }

    private static StoredChange Stored(Guid reservation, string buyer, string from, string to) =>
        new() { ReservationId = reservation, BuyerId = buyer, From = from, To = to, Event = "Test", At = DateTimeOffset.UtcNow };

    [Fact]
    public async Task Only_an_unconfirmed_end_is_announced_on_the_bus_and_the_transitions_before_it_are_not()
    {
        var buyer = Sagas.NewBuyer("feed-bus");

        var id = await SubmitAndCancelAsync(buyer);

        var ended = await host.Probe.WaitForAsync<Contracts.Ordering.ReservationEndedUnconfirmed>(m => m.ReservationId == id);
        (ended.BuyerId, ended.Outcome).ShouldBe((buyer, "Cancelled"));
        host.Probe.All<Contracts.Ordering.ReservationStatusChanged>(m => m.ReservationId == id).ShouldBeEmpty("buyers read the feed; nobody needs every transition");
    }

    [Theory]
    [InlineData("after=not-a-cursor", "after")]
    [InlineData("after=garbage", "after")]
    [InlineData("after=AgAAAAAAAAAAAAAAAAAAAAA", "after")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=ten", "limit")]
    public async Task A_malformed_cursor_or_limit_is_refused_as_a_problem_naming_the_parameter(string query, string parameter)
    {
        using var client = host.ClientWith(TestTokens.Buyer(Sagas.NewBuyer("feed-bad")));

        using var response = await client.GetAsync(new Uri($"/v1/reservations/changes?{query}", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("errors").TryGetProperty(parameter, out _).ShouldBeTrue(problem.RootElement.ToString());
    }

    [Fact]
    public async Task A_cursor_past_the_end_of_the_callers_feed_is_refused_over_REST_and_gRPC_so_no_change_to_come_is_skipped_silently()
    {
        var buyer = Sagas.NewBuyer("feed-ahead");
        await SubmitAndCancelAsync(buyer);
        var head = (await ReadUntilAsync(buyer, count: 2))[^1];
        ChangeCursor.TryParse(head.Cursor, out var last).ShouldBeTrue();
        string[] ahead = ["Af__________f_________8", (last with { Position = last.Position + 1 }).ToString(), (last with { TransactionOrder = last.TransactionOrder + 1 }).ToString()];

        foreach (var cursor in ahead)
        {
            using var client = host.ClientWith(TestTokens.Buyer(buyer));
            using var response = await client.GetAsync(new Uri($"/v1/reservations/changes?after={cursor}", UriKind.Relative));
            var text = await response.Content.ReadAsStringAsync();
            response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, $"{cursor}: {text}");
            using var problem = JsonDocument.Parse(text);
            problem.RootElement.GetProperty("errors").EnumerateObject().Select(e => e.Name).ShouldBe(["after"]);
        }

        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        var refused = await Should.ThrowAsync<RpcException>(() => StreamAsync(new GrpcReservations.ReservationsClient(channel), buyer, after: ahead[0], count: 1));
        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        var caughtUp = await ReadPageAsync(buyer, head.Cursor, limit: 10);
        (caughtUp.Changes.Count, caughtUp.Next).ShouldBe((0, head.Cursor), "the last change's own cursor is the end of the feed, not past it");
        var empty = Sagas.NewBuyer("feed-ahead-empty");
        using var none = host.ClientWith(TestTokens.Buyer(empty));
        using var beforeAny = await none.GetAsync(new Uri($"/v1/reservations/changes?after={head.Cursor}", UriKind.Relative));
        beforeAny.StatusCode.ShouldBe(HttpStatusCode.BadRequest, "a buyer without changes has a feed that ends at its start");
    }

    [Fact]
    public async Task The_gRPC_stream_gives_the_same_changes_as_REST_resumes_from_a_cursor_and_keeps_to_the_callers_reservations()
    {
        var buyer = Sagas.NewBuyer("feed-grpc");
        var stranger = Sagas.NewBuyer("feed-grpc-other");
        await SubmitAndCancelAsync(stranger);
        var id = await SubmitAndCancelAsync(buyer);
        var rest = await ReadUntilAsync(buyer, count: 2);

        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        var reservations = new GrpcReservations.ReservationsClient(channel);
        var streamed = await StreamAsync(reservations, buyer, after: "", count: 2);
        var resumed = await StreamAsync(reservations, buyer, after: streamed[0].Cursor, count: 1);

        streamed.Select(c => (c.Cursor, c.ReservationId, c.From, c.To)).ShouldBe(rest.Select(c => (c.Cursor, id.ToString(), c.From, c.To)));
        resumed.Single().Cursor.ShouldBe(streamed[1].Cursor);
        using (var nothingYet = reservations.Changes(new ChangesRequest(), Bearer(Sagas.NewBuyer("feed-grpc-new")), deadline: DateTime.UtcNow + Patience))
        {
            (await nothingYet.ResponseStream.MoveNext(CancellationToken.None)).ShouldBeTrue("the first page comes at once, even when empty");
            nothingYet.ResponseStream.Current.Changes.ShouldBeEmpty();
        }

        var refused = await Should.ThrowAsync<RpcException>(() => StreamAsync(reservations, buyer, after: "garbage", count: 1));
        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
    }

    public sealed record Change(string Cursor, Guid ReservationId, string From, string To, string Event, string? Reason, DateTimeOffset At);

    public sealed record Page(List<Change> Changes, string Next);

    private async Task<Guid> SubmitAndCancelAsync(string buyer)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var submitted = await client.PostAsync(
            new Uri("/v1/reservations", UriKind.Relative), new StringContent(Body, Encoding.UTF8, "application/json"));
        submitted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await submitted.Content.ReadAsStringAsync());
        using var json = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync());
        var id = json.RootElement.GetProperty("id").GetGuid();

        await WaitForStatusAsync(client, id, "Screening");
        using var cancelled = await client.PostAsync(
            new Uri($"/v1/reservations/{id}/cancel", UriKind.Relative), new StringContent("""{"reason":"feed test"}""", Encoding.UTF8, "application/json"));
        cancelled.StatusCode.ShouldBe(HttpStatusCode.Accepted, await cancelled.Content.ReadAsStringAsync());
        await WaitForStatusAsync(client, id, "Cancelled");
        return id;
    }

    private static async Task WaitForStatusAsync(HttpClient buyer, Guid id, string status) =>
        await Eventually.Until(async () =>
        {
            using var view = JsonDocument.Parse(await buyer.GetStringAsync(new Uri($"/v1/reservations/{id}", UriKind.Relative)));
            return view.RootElement.GetProperty("status").GetString();
        }, seen => seen == status, Patience, $"reservation {id} to be {status}");

    private async Task<Page> ReadPageAsync(string buyer, string? cursor, int limit)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        var query = cursor is null ? $"limit={limit}" : $"after={cursor}&limit={limit}";
        using var response = await client.GetAsync(new Uri($"/v1/reservations/changes?{query}", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonSerializer.Deserialize<Page>(text, OrderingHost.Json)!;
    }

    private async Task<List<Change>> ReadAllAsync(string buyer, string? cursor)
    {
        var all = new List<Change>();
        while (true)
        {
            var page = await ReadPageAsync(buyer, cursor, limit: 1000);
            all.AddRange(page.Changes);
            if (page.Changes.Count < 1000)
            {
                return all;
            }

            cursor = page.Next;
        }
    }

    /// <summary>
    /// Reads until <paramref name="count"/> changes are there: a change is served once every older write transaction
    /// on the server has ended, which on a shared server can take a moment.
    /// </summary>
    private async Task<List<Change>> ReadUntilAsync(string buyer, int count, string? cursor = null)
    {
        var changes = await Eventually.Latest(() => ReadAllAsync(buyer, cursor), changes => changes.Count >= count, Patience);
        changes.Count.ShouldBe(count, string.Join("\n", changes));
        return changes;
    }

    private static async Task<List<ReservationChange>> StreamAsync(GrpcReservations.ReservationsClient reservations, string buyer, string after, int count)
    {
        using var call = reservations.Changes(new ChangesRequest { After = after }, Bearer(buyer), deadline: DateTime.UtcNow + Patience);
        var changes = new List<ReservationChange>();
        while (changes.Count < count && await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            var page = call.ResponseStream.Current;
            if (page.Changes.Count > 0)
            {
                page.Next.ShouldBe(page.Changes[^1].Cursor);
            }

            changes.AddRange(page.Changes);
        }

        return changes;
    }

    private static Metadata Bearer(string buyer) => new() { { "Authorization", $"Bearer {TestTokens.Buyer(buyer)}" } };

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(host.Database);
        await connection.OpenAsync();
        return connection;
    }

    private static async Task InsertChangeAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid reservation, string buyer, string to, string from = "Submitted")
    {
        await using var insert = new NpgsqlCommand("""
            INSERT INTO reservation_changes (reservation_id, buyer_id, from_status, to_status, event, at)
            VALUES (@reservation, @buyer, @from, @to, 'Test', now())
            """, connection, transaction);
        insert.Parameters.AddWithValue("reservation", reservation);
        insert.Parameters.AddWithValue("buyer", buyer);
        insert.Parameters.AddWithValue("from", from);
        insert.Parameters.AddWithValue("to", to);
        await insert.ExecuteNonQueryAsync();
    }
}
