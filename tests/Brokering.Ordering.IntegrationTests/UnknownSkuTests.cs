using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Contracts.Grpc.Common;
using Brokering.Contracts.Grpc.Ordering;
using Brokering.Ordering.Catalogue;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>An unknown SKU is refused at the API from ordering's own copy of the catalogue, without asking compliance.</summary>
public sealed class UnknownSkuTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_SKU_missing_from_a_fresh_catalogue_copy_is_a_400_naming_the_line_and_stores_nothing()
    {
        host.Services.GetRequiredService<CatalogueCopy>().Replace(["NVIDIA-H20-96GB"], DateTimeOffset.UtcNow);
        var buyer = $"unknown-sku-{Guid.NewGuid():N}";

        using var response = await CatalogueSubmissions.SubmitAsync(host, buyer, null, "NVIDIA-H20-96GB", "NO-SUCH-GPU");

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        var errors = problem.GetProperty("errors");
        errors.TryGetProperty("lines[1].sku", out var message).ShouldBeTrue();
        message[0].GetString()!.ShouldContain("NO-SUCH-GPU");
        errors.TryGetProperty("lines[0].sku", out _).ShouldBeFalse();
        (await CatalogueSubmissions.ReservationsOfAsync(host, buyer)).ShouldBe(0);
    }
}

/// <summary>
/// Ordering's catalogue check fails closed (docs/security.md, "Ordering's catalogue copy fails closed"): a replica whose
/// copy cannot vouch for a SKU (none yet, an empty listing, or a stale copy that does not list it) refuses the
/// submission as retryable on every channel, stores nothing and leaves its key unused, and is not ready until
/// compliance has listed the catalogue once.
/// </summary>
public sealed class CatalogueFailsClosedTests(CatalogueFailsClosedTests.UncataloguedHost host) : IClassFixture<CatalogueFailsClosedTests.UncataloguedHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private CatalogueCopy Copy => host.Services.GetRequiredService<CatalogueCopy>();

    [Fact]
    public async Task Before_compliance_lists_the_catalogue_a_submission_is_a_503_naming_each_line_with_retry_after_and_its_key_is_taken_afresh_once_it_has()
    {
        Copy.Replace([], DateTimeOffset.UtcNow);
        var buyer = Sagas.NewBuyer("undecided");
        var key = $"undecided-{Guid.NewGuid():N}";

        using var refused = await CatalogueSubmissions.SubmitAsync(host, buyer, key, "NVIDIA-H20", "NVIDIA-L40S");

        refused.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        refused.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        refused.Headers.RetryAfter!.Delta.ShouldNotBeNull().ShouldBeGreaterThan(TimeSpan.Zero);
        var errors = (await refused.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("errors");
        errors.GetProperty("lines[0].sku")[0].GetString()!.ShouldContain("NVIDIA-H20");
        errors.GetProperty("lines[1].sku")[0].GetString()!.ShouldContain("NVIDIA-L40S");
        (await CatalogueSubmissions.ReservationsOfAsync(host, buyer)).ShouldBe(0);
        (await KeysOfAsync(buyer)).ShouldBe(0);

        TestCatalogue.LoadInto(host.Services);
        using var accepted = await CatalogueSubmissions.SubmitAsync(host, buyer, key, "NVIDIA-H20", "NVIDIA-L40S");

        accepted.StatusCode.ShouldBe(HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync(Ct));
        (await CatalogueSubmissions.ReservationsOfAsync(host, buyer)).ShouldBe(1);
    }

    [Fact]
    public async Task Ordering_is_not_ready_until_compliance_has_listed_the_catalogue_once_and_stays_ready_once_its_copy_is_stale()
    {
        using var anonymous = host.CreateClient();
        Copy.Replace([], DateTimeOffset.UtcNow);

        using (var before = await anonymous.GetAsync(new Uri("/health/ready", UriKind.Relative), Ct))
        {
            before.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
            var checks = (await before.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("checks");
            checks.GetProperty("catalogue").GetProperty("status").GetString().ShouldBe("Unhealthy");
            checks.GetProperty("database").GetProperty("status").GetString().ShouldBe("Healthy");
        }

        Copy.Replace(TestCatalogue.Skus, DateTimeOffset.UtcNow - TimeSpan.FromHours(2));
        using (var stale = await anonymous.GetAsync(new Uri("/health/ready", UriKind.Relative), Ct))
        {
            stale.StatusCode.ShouldBe(HttpStatusCode.OK);
            (await stale.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("checks").GetProperty("catalogue")
                .GetProperty("status").GetString().ShouldBe("Degraded");
        }

        TestCatalogue.LoadInto(host.Services);
        using var after = await anonymous.GetAsync(new Uri("/health/ready", UriKind.Relative), Ct);
        after.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_stale_copy_still_vouches_for_the_SKUs_it_lists_and_refuses_others_as_retryable_rather_than_unknown()
    {
        Copy.Replace(["NVIDIA-H20"], DateTimeOffset.UtcNow - TimeSpan.FromHours(2));
        var buyer = Sagas.NewBuyer("stale");

        using (var listed = await CatalogueSubmissions.SubmitAsync(host, buyer, null, "NVIDIA-H20"))
        {
            listed.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        }

        using var unlisted = await CatalogueSubmissions.SubmitAsync(host, buyer, null, "NVIDIA-H20", "NVIDIA-L40S");

        unlisted.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        var errors = (await unlisted.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("errors");
        errors.TryGetProperty("lines[1].sku", out _).ShouldBeTrue();
        errors.TryGetProperty("lines[0].sku", out _).ShouldBeFalse();
        (await CatalogueSubmissions.ReservationsOfAsync(host, buyer)).ShouldBe(1);
    }

    [Fact]
    public async Task A_retry_of_a_submission_accepted_before_the_copy_was_lost_is_replayed_not_refused()
    {
        TestCatalogue.LoadInto(host.Services);
        var buyer = Sagas.NewBuyer("replay-undecided");
        var key = $"replay-{Guid.NewGuid():N}";
        using var first = await CatalogueSubmissions.SubmitAsync(host, buyer, key, "NVIDIA-H20");
        first.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var id = (await first.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetGuid();
        Copy.Replace([], DateTimeOffset.UtcNow);

        using var retry = await CatalogueSubmissions.SubmitAsync(host, buyer, key, "NVIDIA-H20");
        using var changed = await CatalogueSubmissions.SubmitAsync(host, buyer, key, "NVIDIA-L40S");

        retry.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await retry.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetGuid().ShouldBe(id);
        changed.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity);
        (await CatalogueSubmissions.ReservationsOfAsync(host, buyer)).ShouldBe(1);
    }

    [Fact]
    public async Task Over_grpc_a_submission_the_copy_cannot_vouch_for_is_unavailable_naming_the_line_with_a_retry_after_trailer()
    {
        Copy.Replace([], DateTimeOffset.UtcNow);
        var buyer = Sagas.NewBuyer("undecided-grpc");
        var request = new SubmitReservationRequest
        {
            BuyerReference = "PO-GRPC",
            EndUser = new EndUser { Name = "Acme Research", Country = "US" },
            DestinationCountry = "US",
            FillPolicy = FillPolicy.AllOrNone,
            Confirmation = Confirmation.Manual,
            IdempotencyKey = $"grpc-{Guid.NewGuid():N}",
        };
        request.Lines.Add(new ReservationLine { Sku = "NVIDIA-H20", Quantity = 1, MaxUnitPrice = new DecimalValue { Units = 100 }, Currency = "USD" });
        using var channel = GrpcChannel.ForAddress(host.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = host.Server.CreateHandler() });
        var client = new Contracts.Grpc.Ordering.Reservations.ReservationsClient(channel);
        var headers = new Metadata { { "authorization", $"Bearer {TestTokens.Buyer(buyer)}" } };

        var refused = await Should.ThrowAsync<RpcException>(() => client.SubmitAsync(request, headers, cancellationToken: Ct).ResponseAsync);

        refused.StatusCode.ShouldBe(StatusCode.Unavailable);
        refused.Status.Detail.ShouldContain("lines[0].sku");
        refused.Trailers.GetValue("retry-after").ShouldNotBeNullOrEmpty();
        (await CatalogueSubmissions.ReservationsOfAsync(host, buyer)).ShouldBe(0);

        var many = new SubmitManyRequest { Reservations = { request } };
        var answer = await client.SubmitManyAsync(many, headers, cancellationToken: Ct);
        answer.Results[0].Outcome.ShouldBe(SubmitOutcome.Unavailable);
        answer.Results[0].Errors.Keys.ShouldBe(["reservations[0].lines[0].sku"]);

        TestCatalogue.LoadInto(host.Services);
        var accepted = await client.SubmitAsync(request, headers, cancellationToken: Ct);
        accepted.Id.ShouldNotBeNullOrEmpty();
        (await CatalogueSubmissions.ReservationsOfAsync(host, buyer)).ShouldBe(1);
    }

    [Fact]
    public async Task A_bulk_item_the_copy_cannot_vouch_for_is_answered_unavailable_with_its_line_path_and_nothing_stored()
    {
        Copy.Replace([], DateTimeOffset.UtcNow);
        var buyer = Sagas.NewBuyer("undecided-bulk");
        using var client = host.ClientWith(TestTokens.Buyer(buyer));

        using var response = await client.PostAsJsonAsync("/v1/reservations/bulk", new[]
        {
            new
            {
                idempotencyKey = $"bulk-{Guid.NewGuid():N}", buyerReference = "PO-BULK",
                endUser = new { name = "Acme Research", country = "US" }, destinationCountry = "US",
                fillPolicy = new { kind = "AllOrNone" }, confirmation = "Manual",
                lines = new[] { new { sku = "NVIDIA-H20", quantity = 1, maxUnitPrice = 100m, currency = "USD" } },
            },
        }, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var item = (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("results")[0];
        item.GetProperty("outcome").GetString().ShouldBe("Unavailable");
        item.GetProperty("status").GetInt32().ShouldBe(503);
        item.GetProperty("errors").TryGetProperty("items[0].lines[0].sku", out _).ShouldBeTrue();
        (await CatalogueSubmissions.ReservationsOfAsync(host, buyer)).ShouldBe(0);
        (await KeysOfAsync(buyer)).ShouldBe(0);
    }

    private async Task<int> KeysOfAsync(string buyer)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        return await db.IdempotencyRecords.CountAsync(r => r.BuyerId == buyer, Ct);
    }

    /// <summary>Ordering as it starts: no compliance has listed the catalogue to it.</summary>
    public sealed class UncataloguedHost : OrderingHost
    {
        protected override bool LoadsCatalogue => false;
    }
}

internal static class CatalogueSubmissions
{
    public static async Task<HttpResponseMessage> SubmitAsync(OrderingHost host, string buyer, string? key, params string[] skus)
    {
        using var client = host.ClientWith(TestTokens.Buyer(buyer));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/reservations")
        {
            Content = JsonContent.Create(new
            {
                buyerReference = "PO-SKU",
                endUser = new { name = "Acme Research", country = "US" },
                destinationCountry = "US",
                fillPolicy = new { kind = "AllOrNone" },
                confirmation = "Manual",
                lines = skus.Select(sku => new { sku, quantity = 1, maxUnitPrice = 20_000m, currency = "USD" }).ToArray(),
            }),
        };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    public static async Task<int> ReservationsOfAsync(OrderingHost host, string buyer)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.OrderingDbContext>();
        return await db.Reservations.CountAsync(r => r.BuyerId == buyer, TestContext.Current.CancellationToken);
    }
}
