using System.Net;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// Rate limits protect rather than harm: probes and metrics are never limited, anonymous callers are limited per
/// client address (the ingress's X-Forwarded-For believed only from a configured proxy), tenants and service accounts
/// have budgets of their own, long-lived streams hold one of a few slots per caller, and a refusal says when to retry.
/// Ordering runs on Kestrel here, so the client address is the real connection's.
/// </summary>
public sealed class RateLimitTests(RateLimitTests.BehindProxyHost host) : IClassFixture<RateLimitTests.BehindProxyHost>
{
    private const int Flood = 60;

    [Fact]
    public async Task A_flood_of_anonymous_requests_gets_429_with_retry_after_and_the_health_and_metrics_endpoints_still_answer()
    {
        using var client = new HttpClient { BaseAddress = host.Address };

        var statuses = await FloodAsync(() => Get(client, "/ops/", forwardedFor: "203.0.113.10"));
        using var throttled = await Get(client, "/ops/", forwardedFor: "203.0.113.10");
        var probes = new List<HttpStatusCode>();
        for (var i = 0; i < Flood; i++)
        {
            using var live = await Get(client, "/health/live", forwardedFor: "203.0.113.10");
            using var metrics = await Get(client, "/metrics", forwardedFor: "203.0.113.10");
            probes.Add(live.StatusCode);
            probes.Add(metrics.StatusCode);
        }

        statuses.ShouldContain(HttpStatusCode.TooManyRequests);
        throttled.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        throttled.Headers.RetryAfter.ShouldNotBeNull();
        throttled.Headers.RetryAfter!.Delta!.Value.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1));
        throttled.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        probes.ShouldAllBe(status => status == HttpStatusCode.OK);
    }

    [Fact]
    public async Task Behind_a_configured_proxy_each_forwarded_client_address_has_a_budget_of_its_own()
    {
        using var client = new HttpClient { BaseAddress = host.Address };

        await FloodAsync(() => Get(client, "/ops/", forwardedFor: "203.0.113.20"));
        using var flooder = await Get(client, "/ops/", forwardedFor: "203.0.113.20");
        using var neighbour = await Get(client, "/ops/", forwardedFor: "203.0.113.21");

        flooder.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        neighbour.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_buyer_spending_its_budget_throttles_neither_another_buyer_nor_a_service_account()
    {
        using var flooder = host.ClientWith(TestTokens.Buyer($"flood-{Guid.NewGuid():N}"[..20]));
        using var neighbour = host.ClientWith(TestTokens.Buyer($"calm-{Guid.NewGuid():N}"[..20]));
        using var service = host.ClientWith(TestTokens.Service("compliance"));
        var path = $"/v1/reservations/{Guid.NewGuid()}";

        var statuses = await FloodAsync(() => flooder.GetAsync(path, TestContext.Current.CancellationToken));
        using var throttled = await flooder.GetAsync(path, TestContext.Current.CancellationToken);
        using var other = await neighbour.GetAsync(path, TestContext.Current.CancellationToken);
        using var platform = await service.GetAsync(path, TestContext.Current.CancellationToken);

        statuses.ShouldContain(HttpStatusCode.TooManyRequests);
        throttled.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        throttled.Headers.RetryAfter.ShouldNotBeNull();
        other.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        platform.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_throttled_grpc_call_is_resource_exhausted_with_retry_after()
    {
        var token = TestTokens.Buyer($"grpc-flood-{Guid.NewGuid():N}"[..24]);
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        var client = new Contracts.Grpc.Ordering.Reservations.ReservationsClient(channel);
        var headers = new Metadata { { "authorization", $"Bearer {token}" } };
        RpcException? refusal = null;
        for (var i = 0; i < Flood && refusal?.StatusCode != StatusCode.ResourceExhausted; i++)
        {
            try
            {
                await client.GetAsync(new() { Id = Guid.NewGuid().ToString() }, headers, cancellationToken: TestContext.Current.CancellationToken);
            }
            catch (RpcException e)
            {
                refusal = e;
            }
        }

        refusal.ShouldNotBeNull();
        refusal.StatusCode.ShouldBe(StatusCode.ResourceExhausted);
        refusal.Trailers.GetValue("retry-after").ShouldNotBeNull();
    }

    [Fact]
    public async Task A_caller_holds_at_most_the_configured_number_of_concurrent_streams_and_a_slot_frees_when_a_stream_ends()
    {
        using var client = host.ClientWith(TestTokens.For($"ops-{Guid.NewGuid():N}"[..16], null, BrokeringRoles.Ops));

        using (var first = await OpenStreamAsync(client))
        {
            using var second = await OpenStreamAsync(client);
            first.StatusCode.ShouldBe(HttpStatusCode.OK);
            second.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        }

        // The server frees the slot once it has seen the first stream end: a moment later, not at once.
        using var again = await Eventually.Latest(async () =>
        {
            var response = await OpenStreamAsync(client);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                response.Dispose(); // a refusal holds no slot; only the stream that opened is kept
            }

            return response;
        }, response => response.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100),
            cancellationToken: TestContext.Current.CancellationToken);
        again.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private static Task<HttpResponseMessage> OpenStreamAsync(HttpClient client) =>
        client.GetAsync("/v1/ops/stream", HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);

    private static Task<HttpResponseMessage> Get(HttpClient client, string path, string forwardedFor)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        return client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    private static async Task<List<HttpStatusCode>> FloodAsync(Func<Task<HttpResponseMessage>> send)
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < Flood; i++)
        {
            using var response = await send();
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    /// <summary>Ordering on Kestrel behind a proxy at 127.0.0.1, with budgets small enough to spend in a test.</summary>
    public sealed class BehindProxyHost() : OrderingHost(kestrel: true)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("RateLimiting:PermitsPerSecondPerTenant", "5");
            builder.UseSetting("RateLimiting:PermitsPerSecondPerAnonymousAddress", "5");
            builder.UseSetting("RateLimiting:ConcurrentStreamsPerCaller", "1");
            builder.UseSetting("ForwardedHeaders:KnownProxies:0", "127.0.0.1");
        }
    }
}

/// <summary>Without a configured proxy, X-Forwarded-For is the caller's word and chooses no budget.</summary>
public sealed class ForwardedHeadersUntrustedTests(ForwardedHeadersUntrustedTests.DirectHost host) : IClassFixture<ForwardedHeadersUntrustedTests.DirectHost>
{
    [Fact]
    public async Task Without_a_configured_proxy_a_caller_cannot_escape_its_budget_by_inventing_forwarded_addresses()
    {
        using var client = new HttpClient { BaseAddress = host.Address };
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 60; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/ops/");
            request.Headers.Add("X-Forwarded-For", $"198.51.100.{i}");
            using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            statuses.Add(response.StatusCode);
        }

        statuses.ShouldContain(HttpStatusCode.TooManyRequests);
    }

    /// <summary>Ordering on Kestrel with no proxy configured.</summary>
    public sealed class DirectHost() : OrderingHost(kestrel: true)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("RateLimiting:PermitsPerSecondPerAnonymousAddress", "5");
        }
    }
}
