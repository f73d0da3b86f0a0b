using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Inventory;
using Brokering.Testing;
using static Brokering.Inventory.Tests.InventoryFixture;

namespace Brokering.Inventory.Tests;

/// <summary>A distributor reads its own holds and orders over REST, filtered and a page at a time, and nothing of anyone else's.</summary>
public sealed class DistributorOrdersTests(InventoryFixture fixture)
{
    private const string A800 = "NVIDIA-A800-SXM4-80GB";
    private const string H800 = "NVIDIA-H800-SXM5-80GB";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_distributor_lists_its_own_holds_with_the_buyer_organisation_and_filters_them_by_status_and_sku()
    {
        var mine = await fixture.NewDistributorAsync();
        var other = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50, Price: 9000m), new Stock(H800, "HK", 50, Price: 25000m));
        await fixture.SnapshotAsync(other, 1, new Stock(A800, "SG1", 50));
        var committed = Guid.NewGuid();
        var held = Guid.NewGuid();
        await fixture.A.PlaceInFullAsync(committed, "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 5), Hold(other, A800, "SG1", 7));
        await fixture.A.PlaceInFullAsync(held, "globex", TimeSpan.FromMinutes(10), Hold(mine, H800, "HK", 3));
        await fixture.A.CommitAsync(committed);

        var all = await HoldsAsync(mine, "");
        var heldOnly = await HoldsAsync(mine, "?status=held");
        var a800 = await HoldsAsync(mine, "?sku=nvidia-a800-sxm4-80gb&status=committed,released");

        all.Select(h => (h.GetProperty("reservationId").GetGuid(), h.GetProperty("buyerOrganisation").GetString(), h.GetProperty("sku").GetString(),
                h.GetProperty("units").GetInt64(), h.GetProperty("status").GetString()))
            .ShouldBe([(committed, "acme-servers", A800, 5L, "committed"), (held, "globex", H800, 3L, "held")]);
        all[0].GetProperty("unitPrice").GetDecimal().ShouldBe(9000m);
        all[0].GetProperty("warehouse").GetString().ShouldBe("SG1");
        heldOnly.Select(h => h.GetProperty("reservationId").GetGuid()).ShouldBe([held]);
        a800.Select(h => h.GetProperty("reservationId").GetGuid()).ShouldBe([committed]);
        (await HoldsAsync(other, "")).Select(h => h.GetProperty("units").GetInt64()).ShouldBe([7L], "the other distributor sees only its own line");
    }

    [Fact]
    public async Task Paging_through_the_holds_with_next_shows_each_hold_once_in_the_order_placed()
    {
        var mine = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 100));
        var reservations = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            reservations.Add(Guid.NewGuid());
            await fixture.A.PlaceInFullAsync(reservations[^1], "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 1));
        }

        var seen = new List<Guid>();
        string? next = null;
        var pages = 0;
        do
        {
            using var response = await GetAsync(mine, $"/v1/distributor/holds?limit=2{(next is null ? "" : $"&cursor={next}")}");
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            var page = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
            seen.AddRange(page.GetProperty("holds").EnumerateArray().Select(h => h.GetProperty("reservationId").GetGuid()));
            next = page.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next").GetString();
            pages++;
        }
        while (next is not null);

        seen.ShouldBe(reservations);
        pages.ShouldBe(3);
        // since: only the holds placed at or after the third one.
        var third = (await HoldsAsync(mine, "")).Single(h => h.GetProperty("reservationId").GetGuid() == reservations[2]).GetProperty("heldAt").GetDateTimeOffset();
        (await HoldsAsync(mine, $"?since={Uri.EscapeDataString(third.ToString("O"))}")).Select(h => h.GetProperty("reservationId").GetGuid())
            .ShouldBe(reservations[2..]);
    }

    [Fact]
    public async Task An_order_is_the_committed_holds_of_one_reservation_at_the_distributor_with_buyer_lines_units_and_prices()
    {
        var mine = await fixture.NewDistributorAsync();
        var other = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50, Price: 9000m), new Stock(H800, "HK", 50, Price: 25000m));
        await fixture.SnapshotAsync(other, 1, new Stock(A800, "SG1", 50));
        var ordered = Guid.NewGuid();
        var onlyHeld = Guid.NewGuid();
        await fixture.A.PlaceInFullAsync(ordered, "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 5), Hold(mine, H800, "HK", 2), Hold(other, A800, "SG1", 7));
        await fixture.A.PlaceInFullAsync(onlyHeld, "globex", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 1));
        var commit = await fixture.A.CommitAsync(ordered);

        var orders = await OrdersAsync(mine, "");

        var order = orders.ShouldHaveSingleItem();
        order.GetProperty("reservationId").GetGuid().ShouldBe(ordered);
        order.GetProperty("buyerOrganisation").GetString().ShouldBe("acme-servers");
        order.GetProperty("units").GetInt64().ShouldBe(7);
        order.GetProperty("committedAt").GetDateTimeOffset().ShouldBe(commit.CommittedAt.ToDateTimeOffset());
        order.GetProperty("lines").EnumerateArray()
            .Select(l => (l.GetProperty("sku").GetString(), l.GetProperty("warehouse").GetString(), l.GetProperty("units").GetInt64(), l.GetProperty("unitPrice").GetDecimal()))
            .ShouldBe([(A800, "SG1", 5L, 9000m), (H800, "HK", 2L, 25000m)]);
        (await OrdersAsync(mine, $"?sku={H800}")).Count.ShouldBe(1);
        (await OrdersAsync(mine, "?sku=NVIDIA-H20")).ShouldBeEmpty();
        (await OrdersAsync(other, "")).ShouldHaveSingleItem().GetProperty("units").GetInt64().ShouldBe(7, "the other distributor's order holds only its own line");
    }

    [Fact]
    public async Task A_commit_announces_one_order_to_each_distributor_involved_with_only_its_own_lines_and_a_repeat_announces_none()
    {
        var mine = await fixture.NewDistributorAsync();
        var other = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50, Price: 9000m), new Stock(H800, "HK", 50, Price: 25000m));
        await fixture.SnapshotAsync(other, 1, new Stock(A800, "SG1", 50, Price: 9100m));
        var reservation = Guid.NewGuid();
        await fixture.A.PlaceInFullAsync(reservation, "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, H800, "HK", 2), Hold(mine, A800, "SG1", 5), Hold(other, A800, "SG1", 7));

        var commit = await fixture.A.CommitAsync(reservation);
        await fixture.A.CommitAsync(reservation);

        var toMine = await fixture.Events.WaitForAsync<DistributorOrderPlaced>(e => e.ReservationId == reservation && e.DistributorId == mine);
        var toOther = await fixture.Events.WaitForAsync<DistributorOrderPlaced>(e => e.ReservationId == reservation && e.DistributorId == other);
        (toMine.BuyerOrganisation, toMine.Units, toMine.CommittedAt).ShouldBe(("acme-servers", 7L, commit.CommittedAt.ToDateTimeOffset()));
        toMine.Lines.Select(l => (l.Sku, l.Warehouse, l.Units, l.UnitPrice, l.Currency)).ShouldBe([(A800, "SG1", 5L, 9000m, "USD"), (H800, "HK", 2L, 25000m, "USD")]);
        toOther.Lines.Select(l => (l.Sku, l.Units, l.UnitPrice)).ShouldBe([(A800, 7L, 9100m)]);
        toMine.Lines.Concat(toOther.Lines).Select(l => l.HoldId.ToString()).Order().ShouldBe(commit.HoldIds.Order());
        // The notice and the REST list describe the same order.
        var listed = (await OrdersAsync(mine, "")).ShouldHaveSingleItem();
        listed.GetProperty("committedAt").GetDateTimeOffset().ShouldBe(toMine.CommittedAt);
        listed.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("holdId").GetGuid()).ShouldBe(toMine.Lines.Select(l => l.HoldId));
        await Task.Delay(300, Cancel);
        fixture.Events.All<DistributorOrderPlaced>(e => e.ReservationId == reservation).Count.ShouldBe(2, "the repeated commit announces nothing");
    }

    [Fact]
    public async Task A_revoked_commit_tells_the_distributor_its_order_no_longer_stands_and_the_order_leaves_the_list()
    {
        var mine = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 50));
        var reservation = Guid.NewGuid();
        await fixture.A.PlaceInFullAsync(reservation, "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 5));
        var commit = await fixture.A.CommitAsync(reservation);
        var placed = await fixture.Events.WaitForAsync<DistributorOrderPlaced>(e => e.ReservationId == reservation);

        await fixture.A.Ledger.ReleaseHoldsAsync(new ReleaseHoldsRequest
        {
            ReservationId = reservation.ToString(),
            Reason = "The cutoff moved before the commit landed.",
            RevokeCommitsFrom = commit.CommittedAt,
        });

        var revoked = await fixture.Events.WaitForAsync<DistributorOrderRevoked>(e => e.ReservationId == reservation);
        (revoked.DistributorId, revoked.CommittedAt, revoked.Units, revoked.Reason)
            .ShouldBe((mine, placed.CommittedAt, 5L, "The cutoff moved before the commit landed."));
        revoked.HoldIds.ShouldBe(placed.Lines.Select(l => l.HoldId));
        (await OrdersAsync(mine, "")).ShouldBeEmpty();
        (await HoldsAsync(mine, "")).Single().GetProperty("status").GetString().ShouldBe("released");
    }

    [Theory]
    [InlineData("/v1/distributor/holds?status=active", "status")]
    [InlineData("/v1/distributor/holds?sku=%3Cscript%3E", "sku")]
    [InlineData("/v1/distributor/holds?since=yesterday", "since")]
    [InlineData("/v1/distributor/holds?limit=0", "limit")]
    [InlineData("/v1/distributor/orders?limit=201", "limit")]
    [InlineData("/v1/distributor/orders?cursor=not-a-cursor", "cursor")]
    public async Task A_bad_filter_is_refused_with_problem_json_naming_the_parameter(string path, string parameter)
    {
        using var response = await GetAsync("arrow", path);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors");
        errors.EnumerateObject().Select(e => e.Name).ShouldBe([parameter]);
    }

    [Fact]
    public async Task A_cursor_of_the_holds_list_is_refused_by_the_orders_list()
    {
        var mine = await fixture.NewDistributorAsync();
        await fixture.SnapshotAsync(mine, 1, new Stock(A800, "SG1", 10));
        await fixture.A.PlaceInFullAsync(Guid.NewGuid(), "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 1));
        await fixture.A.PlaceInFullAsync(Guid.NewGuid(), "acme-servers", TimeSpan.FromMinutes(10), Hold(mine, A800, "SG1", 1));
        using var first = await GetAsync(mine, "/v1/distributor/holds?limit=1");
        var next = (await first.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("next").GetString();

        using var response = await GetAsync(mine, $"/v1/distributor/orders?cursor={next}");

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("errors").TryGetProperty("cursor", out _).ShouldBeTrue();
    }

    private async Task<List<JsonElement>> HoldsAsync(string distributor, string query) => await ListAsync(distributor, $"/v1/distributor/holds{query}", "holds");

    private async Task<List<JsonElement>> OrdersAsync(string distributor, string query) => await ListAsync(distributor, $"/v1/distributor/orders{query}", "orders");

    private async Task<List<JsonElement>> ListAsync(string distributor, string path, string items)
    {
        using var response = await GetAsync(distributor, path);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Cancel));
        var page = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        page.GetProperty("next").ValueKind.ShouldBe(JsonValueKind.Null, "one page holds everything here");
        return [.. page.GetProperty(items).EnumerateArray()];
    }

    private async Task<HttpResponseMessage> GetAsync(string distributor, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Distributor(distributor));
        return await fixture.A.Http.SendAsync(request, Cancel);
    }
}
