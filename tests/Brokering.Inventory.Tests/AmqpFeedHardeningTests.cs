using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Brokering.Testing;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The AMQP feed refuses, before it parses anything, a body over the size cap, a message delivered too often, an
/// update without a signing time or signed too long ago (or ahead), and a signing time changed after signing; it
/// never lets a body name another distributor than the one whose key signed it. On the real broker, with one replica
/// on a virtual host of its own (so no other replica with other limits takes its messages).
/// </summary>
public sealed class AmqpFeedHardeningTests(InventoryFixture fixture) : IAsyncLifetime
{
    private const string Sku = "NVIDIA-H20";
    private const int MaxBytes = 2048;

    private Uri virtualHost = null!;
    private InventoryHost replica = null!;

    public async ValueTask InitializeAsync()
    {
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("inventory-feed-hardening", TestContext.Current.CancellationToken);
        replica = await fixture.StartReplicaAsync(virtualHost, new Dictionary<string, string>
        {
            ["Inventory:FeedMaxBytes"] = MaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Inventory:FeedSignatureMaxAge"] = "00:05:00",
            ["Inventory:FeedDeliveryLimit"] = "3",
        });
    }

    public async ValueTask DisposeAsync()
    {
        await replica.DisposeAsync();
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost, CancellationToken.None);
    }

    [Fact]
    public async Task A_body_over_the_size_cap_is_refused_as_too_large_even_when_signed_and_nothing_is_applied()
    {
        var (distributor, key) = await DistributorWithKeyAsync();
        var body = Snapshot(distributor, 1, 10, padding: new string(' ', MaxBytes));

        await AmqpFeed.PublishAsync(virtualHost, body, AmqpFeed.Sign(key, body));

        var refused = await RefusedAsync(distributor);
        refused.Reason.ShouldContain("(TooLarge)");
        (await fixture.LevelAsync(distributor, Sku, "SG1")).OnHand.ShouldBe(0);
    }

    [Theory]
    [InlineData(-61)]
    [InlineData(61)]
    public async Task An_update_signed_further_from_now_than_the_window_is_refused_as_stale(int minutes)
    {
        var (distributor, key) = await DistributorWithKeyAsync();
        var body = Snapshot(distributor, 1, 10);

        await AmqpFeed.PublishAsync(virtualHost, body, AmqpFeed.Sign(key, body, DateTimeOffset.UtcNow.AddMinutes(minutes)));

        (await RefusedAsync(distributor)).Reason.ShouldContain("(Stale)");
        (await fixture.LevelAsync(distributor, Sku, "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task An_update_signed_without_a_signing_time_is_refused_as_undated()
    {
        var (distributor, key) = await DistributorWithKeyAsync();
        var body = Snapshot(distributor, 1, 10);
        var bodyOnly = Convert.ToBase64String(key.SignData(Encoding.UTF8.GetBytes(body), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));

        await AmqpFeed.PublishAsync(virtualHost, body, signature: null, $"Feed-Signature: {bodyOnly}");

        (await RefusedAsync(distributor)).Reason.ShouldContain("(Undated)");
    }

    [Fact]
    public async Task A_stale_update_replayed_with_a_fresh_signing_time_is_refused_as_a_bad_signature()
    {
        var (distributor, key) = await DistributorWithKeyAsync();
        var body = Snapshot(distributor, 1, 10);
        var captured = AmqpFeed.Sign(key, body, DateTimeOffset.UtcNow.AddHours(-2));

        await AmqpFeed.PublishAsync(virtualHost, body, captured with { SignedAt = AmqpFeed.Sign(key, body).SignedAt });

        (await RefusedAsync(distributor)).Reason.ShouldContain("(BadSignature)");
        (await fixture.LevelAsync(distributor, Sku, "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_message_delivered_up_to_the_limit_is_moved_to_the_error_queue_instead_of_being_tried_again()
    {
        var (distributor, key) = await DistributorWithKeyAsync();
        var body = Snapshot(distributor, 1, 10);

        // As the quorum queue counts a message that crashed its consumer three times.
        await AmqpFeed.PublishAsync(virtualHost, body, AmqpFeed.Sign(key, body), "x-delivery-count: 3");

        (await RefusedAsync(distributor)).Reason.ShouldContain("(DeliveryLimit)");
        (await fixture.LevelAsync(distributor, Sku, "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_body_naming_a_second_distributor_after_its_signer_is_refused_and_the_second_distributors_stock_is_untouched()
    {
        var (signer, key) = await DistributorWithKeyAsync();
        var victim = await fixture.NewDistributorAsync();
        var body = Snapshot(signer, 1, 9_999)[..^1] + $",\"distributorId\":\"{victim}\"}}";

        await AmqpFeed.PublishAsync(virtualHost, body, AmqpFeed.Sign(key, body));

        (await RefusedAsync(signer)).Reason.ShouldContain("names another distributor");
        (await fixture.LevelAsync(victim, Sku, "SG1")).OnHand.ShouldBe(0);
        (await fixture.LevelAsync(signer, Sku, "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_fresh_update_signed_over_its_signing_time_and_body_is_applied()
    {
        var (distributor, key) = await DistributorWithKeyAsync();
        var body = Snapshot(distributor, 1, 21);

        await AmqpFeed.PublishAsync(virtualHost, body, AmqpFeed.Sign(key, body, DateTimeOffset.UtcNow.AddMinutes(-4)));

        (await Eventually.Latest(() => fixture.LevelAsync(distributor, Sku, "SG1"), l => l.OnHand == 21)).OnHand.ShouldBe(21);
    }

    private async Task<(string Distributor, ECDsa Key)> DistributorWithKeyAsync()
    {
        var distributor = await fixture.NewDistributorAsync();
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var response = await replica.Http.PutAsJsonAsync(
            $"/v1/distributors/{distributor}/feed-key", new { publicKey = key.ExportSubjectPublicKeyInfoPem() }, TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        return (distributor, key);
    }

    private async Task<(string Payload, string Reason)> RefusedAsync(string distributor)
    {
        var refused = await Eventually.Latest(() => AmqpFeed.ErrorQueueAsync(virtualHost, distributor), f => f.Count == 1);
        refused.Count.ShouldBe(1);
        return refused.Single();
    }

    private static string Snapshot(string distributor, long sequence, long quantity, string padding = "") => JsonSerializer.Serialize(new
    {
        distributorId = distributor,
        sequence,
        kind = "Snapshot",
        items = new[] { new { sku = Sku, warehouse = "SG1", quantityOnHand = quantity, unitPrice = 12000m, currency = "USD", leadTimeDays = 5, minimumOrderQuantity = 1 } },
        note = padding,
    });
}

/// <summary>A distributor replacing its own AMQP feed key must prove it holds the current one; a bearer token alone is not enough.</summary>
public sealed class FeedKeyRotationTests(InventoryFixture fixture)
{
    [Fact]
    public async Task A_distributor_replaces_its_key_only_with_a_proof_signed_by_the_current_key_and_ops_need_none()
    {
        var distributor = await fixture.NewDistributorAsync();
        using var current = await fixture.RegisterFeedKeyAsync(distributor);
        using var stolen = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var next = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var byOps = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        using var withoutProof = await PutAsync(distributor, TestTokens.Distributor(distributor), stolen.ExportSubjectPublicKeyInfoPem(), proof: null);
        using var selfSigned = await PutAsync(distributor, TestTokens.Distributor(distributor), stolen.ExportSubjectPublicKeyInfoPem(), Prove(stolen, stolen));
        using var proven = await PutAsync(distributor, TestTokens.Distributor(distributor), next.ExportSubjectPublicKeyInfoPem(), Prove(current, next));
        using var ops = await PutAsync(distributor, TestTokens.Operator(), byOps.ExportSubjectPublicKeyInfoPem(), proof: null);

        withoutProof.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await withoutProof.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("errors").TryGetProperty("proof", out _).ShouldBeTrue();
        selfSigned.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        proven.StatusCode.ShouldBe(HttpStatusCode.OK);
        ops.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await ops.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("feedKeyFingerprint").GetString()
            .ShouldBe(Convert.ToHexStringLower(SHA256.HashData(byOps.ExportSubjectPublicKeyInfo())));
    }

    private static string Prove(ECDsa signer, ECDsa next) =>
        Convert.ToBase64String(signer.SignData(Encoding.UTF8.GetBytes(next.ExportSubjectPublicKeyInfoPem()), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));

    private async Task<HttpResponseMessage> PutAsync(string distributor, string token, string publicKey, string? proof)
    {
        using var client = fixture.A.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/distributors/{distributor}/feed-key")
        {
            Content = JsonContent.Create(new { publicKey, proof }),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
