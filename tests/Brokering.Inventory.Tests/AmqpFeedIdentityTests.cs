using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Brokering.Inventory.Distributors;
using Brokering.Testing;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The raw AMQP stock feed is bound to the distributor that signed it: against the real broker, a feed
/// signed by another distributor, unsigned, altered after signing or for a distributor without a key is
/// never applied, lands in <c>stock-feed_error</c> with its reason and is counted; the distributor's own is applied.
/// </summary>
public sealed class AmqpFeedIdentityTests(InventoryFixture fixture)
{
    private const string Sku = "NVIDIA-H20";

    [Fact]
    public async Task A_feed_another_distributor_signed_unsigned_or_altered_is_refused_dead_lettered_and_counted_and_the_owners_own_is_applied()
    {
        var victim = await fixture.NewDistributorAsync();
        var impostor = await fixture.NewDistributorAsync();
        using var victimKey = await fixture.RegisterFeedKeyAsync(victim);
        using var impostorKey = await fixture.RegisterFeedKeyAsync(impostor);
        using var refusals = new FeedRefusals();

        var forged = Snapshot(victim, 1, 9_999);
        await AmqpFeed.PublishAsync(fixture.VirtualHost, forged, AmqpFeed.Sign(impostorKey, forged));
        await AmqpFeed.PublishAsync(fixture.VirtualHost, Snapshot(victim, 2, 8_888), signature: null);
        var signed = Snapshot(victim, 3, 5);
        await AmqpFeed.PublishAsync(fixture.VirtualHost, signed.Replace("\"quantityOnHand\":5", "\"quantityOnHand\":7777", StringComparison.Ordinal), AmqpFeed.Sign(victimKey, signed));

        var refused = await Eventually.Latest(() => AmqpFeed.ErrorQueueAsync(fixture.VirtualHost, victim), f => f.Count == 3);
        refused.Count.ShouldBe(3);
        refused.ShouldContain(f => f.Payload.Contains("9999") && f.Reason.Contains("(BadSignature)"));
        refused.ShouldContain(f => f.Payload.Contains("8888") && f.Reason.Contains("(Unsigned)"));
        refused.ShouldContain(f => f.Payload.Contains("7777") && f.Reason.Contains("(BadSignature)"));
        // Other tests may refuse feeds concurrently, so at least these.
        refusals["BadSignature"].ShouldBeGreaterThanOrEqualTo(2);
        refusals["Unsigned"].ShouldBeGreaterThanOrEqualTo(1);
        (await fixture.LevelAsync(victim, Sku, "SG1")).OnHand.ShouldBe(0);
        (await DistributorAsync(victim)).LastSequence.ShouldBe(0);

        // The refusals moved nothing: the owner's own first update is applied in order.
        var own = Snapshot(victim, 1, 42);
        await AmqpFeed.PublishAsync(fixture.VirtualHost, own, AmqpFeed.Sign(victimKey, own));
        var level = await Eventually.Latest(() => fixture.LevelAsync(victim, Sku, "SG1"), l => l.OnHand == 42);
        level.OnHand.ShouldBe(42);
        (await DistributorAsync(victim)).LastSequence.ShouldBe(1);
    }

    [Fact]
    public async Task A_distributor_without_a_registered_feed_key_has_nothing_applied_over_amqp()
    {
        var distributor = await fixture.NewDistributorAsync();
        using var unregistered = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var body = Snapshot(distributor, 1, 11);

        await AmqpFeed.PublishAsync(fixture.VirtualHost, body, AmqpFeed.Sign(unregistered, body));

        var refused = await Eventually.Latest(() => AmqpFeed.ErrorQueueAsync(fixture.VirtualHost, distributor), f => f.Count == 1);
        refused.Single().Reason.ShouldContain("(NoFeedKey)");
        (await fixture.LevelAsync(distributor, Sku, "SG1")).OnHand.ShouldBe(0);
    }

    [Fact]
    public async Task A_feed_signed_with_openssl_as_the_documentation_shows_is_applied()
    {
        var distributor = await fixture.NewDistributorAsync();
        var directory = Directory.CreateTempSubdirectory("feed-key-");
        try
        {
            var key = Path.Combine(directory.FullName, "feed-key.pem");
            var publicKey = Path.Combine(directory.FullName, "feed-key.pub.pem");
            var bodyFile = Path.Combine(directory.FullName, "update.json");
            var signatureFile = Path.Combine(directory.FullName, "update.sig");
            const string Hint = "apt-get install openssl";
            (await AmqpFeed.RunAsync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], Hint)).Exit.ShouldBe(0);
            (await AmqpFeed.RunAsync("openssl", ["ec", "-in", key, "-pubout", "-out", publicKey], Hint)).Exit.ShouldBe(0);
            var body = Snapshot(distributor, 1, 13);
            // What the documentation's `{ printf '%s\n' "$SIGNED_AT"; cat update.json; }` writes.
            var signedAt = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
            await File.WriteAllTextAsync(bodyFile, $"{signedAt}\n{body}", TestContext.Current.CancellationToken);
            (await AmqpFeed.RunAsync("openssl", ["dgst", "-sha256", "-sign", key, "-out", signatureFile, bodyFile], Hint)).Exit.ShouldBe(0);
            var signature = new FeedSignatureHeaders(signedAt, Convert.ToBase64String(await File.ReadAllBytesAsync(signatureFile, TestContext.Current.CancellationToken)));

            // The distributor registers its own key with its own token.
            using var client = fixture.A.CreateClient();
            using var register = new HttpRequestMessage(HttpMethod.Put, $"/v1/distributors/{distributor}/feed-key")
            {
                Content = JsonContent.Create(new { publicKey = await File.ReadAllTextAsync(publicKey, TestContext.Current.CancellationToken) }),
            };
            register.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Distributor(distributor));
            using var registered = await client.SendAsync(register, TestContext.Current.CancellationToken);
            registered.StatusCode.ShouldBe(HttpStatusCode.OK);

            await AmqpFeed.PublishAsync(fixture.VirtualHost, body, signature);

            var level = await Eventually.Latest(() => fixture.LevelAsync(distributor, Sku, "SG1"), l => l.OnHand == 13);
            level.OnHand.ShouldBe(13);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Only_ops_or_the_distributor_itself_registers_a_feed_key_and_only_a_p256_public_key_is_accepted()
    {
        var distributor = await fixture.NewDistributorAsync();
        using var client = fixture.A.CreateClient();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        async Task<HttpResponseMessage> PutAsync(string id, string token, string? pem)
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/distributors/{id}/feed-key") { Content = JsonContent.Create(new { publicKey = pem }) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return await client.SendAsync(request, TestContext.Current.CancellationToken);
        }

        using var another = await PutAsync(distributor, TestTokens.Distributor("arrow"), key.ExportSubjectPublicKeyInfoPem());
        using var wrongCurve = await PutAsync(distributor, TestTokens.Distributor(distributor), p384.ExportSubjectPublicKeyInfoPem());
        using var garbage = await PutAsync(distributor, TestTokens.Distributor(distributor), "not a key");
        // The private key would do (the public one is inside it), but it should never have left the distributor.
        using var privateKey = await PutAsync(distributor, TestTokens.Distributor(distributor), key.ExportECPrivateKeyPem());
        using var privatePkcs8 = await PutAsync(distributor, TestTokens.Distributor(distributor), key.ExportPkcs8PrivateKeyPem());
        using var unknown = await PutAsync("no-such-distributor", TestTokens.For("ops-1", null, "ops"), key.ExportSubjectPublicKeyInfoPem());
        using var own = await PutAsync(distributor, TestTokens.Distributor(distributor), key.ExportSubjectPublicKeyInfoPem());

        another.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        wrongCurve.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        garbage.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        foreach (var refused in new[] { privateKey, privatePkcs8 })
        {
            refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).ShouldContain("a private key");
        }

        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        own.StatusCode.ShouldBe(HttpStatusCode.OK);
        var view = await DistributorAsync(distributor);
        view.FeedKeyFingerprint.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo())));
    }

    private static string Snapshot(string distributor, long sequence, long quantity) => JsonSerializer.Serialize(new
    {
        distributorId = distributor,
        sequence,
        kind = "Snapshot",
        items = new[] { new { sku = Sku, warehouse = "SG1", quantityOnHand = quantity, unitPrice = 12000m, currency = "USD", leadTimeDays = 5, minimumOrderQuantity = 1 } },
    });

    private async Task<DistributorView> DistributorAsync(string id) =>
        (await fixture.A.Http.GetFromJsonAsync<DistributorView>($"/v1/distributors/{id}", InventoryFixture.Json, TestContext.Current.CancellationToken))!;
}
