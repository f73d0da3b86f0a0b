using System.Collections.Concurrent;
using System.Data.Common;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Brokering.Inventory.Data;
using Brokering.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Inventory.Tests;

/// <summary>
/// The AMQP feed reads a distributor's key from the database once and reuses it, and a key replaced through a
/// replica is never used by that replica again. Each test runs one replica on a virtual host of its own (so no
/// other replica takes its messages) with a key lifetime of an hour (so only the replacement, never expiry, can
/// explain a refusal), and counts the service's own reads of the key.
/// </summary>
public sealed class FeedKeyCachingTests(InventoryFixture fixture)
{
    private const string Sku = "NVIDIA-H20";

    [Fact]
    public async Task A_second_amqp_feed_from_the_same_distributor_is_verified_without_reading_its_key_again()
    {
        await using var replica = await Replica.StartAsync(fixture);
        var distributor = await fixture.NewDistributorAsync();
        using var key = await replica.RegisterFeedKeyAsync(distributor);

        await replica.PublishAsync(key, distributor, 1, 10);
        (await Eventually.Latest(() => fixture.LevelAsync(distributor, Sku, "SG1"), l => l.OnHand == 10)).OnHand.ShouldBe(10);
        replica.KeyReads(distributor).ShouldBe(1);

        await replica.PublishAsync(key, distributor, 2, 20);
        (await Eventually.Latest(() => fixture.LevelAsync(distributor, Sku, "SG1"), l => l.OnHand == 20)).OnHand.ShouldBe(20);
        replica.KeyReads(distributor).ShouldBe(1);
    }

    [Fact]
    public async Task After_a_key_rotation_the_replica_that_rotated_it_refuses_a_feed_signed_with_the_old_key_and_applies_the_new()
    {
        await using var replica = await Replica.StartAsync(fixture);
        var distributor = await fixture.NewDistributorAsync();
        using var oldKey = await replica.RegisterFeedKeyAsync(distributor);
        await replica.PublishAsync(oldKey, distributor, 1, 10);
        (await Eventually.Latest(() => fixture.LevelAsync(distributor, Sku, "SG1"), l => l.OnHand == 10)).OnHand.ShouldBe(10);
        replica.KeyReads(distributor).ShouldBe(1);

        using var newKey = await replica.RegisterFeedKeyAsync(distributor);
        await replica.PublishAsync(oldKey, distributor, 2, 6_666);

        var refused = await Eventually.Latest(() => AmqpFeed.ErrorQueueAsync(replica.VirtualHost, distributor), f => f.Count == 1);
        refused.Count.ShouldBe(1);
        refused.Single().Payload.ShouldContain("6666");
        refused.Single().Reason.ShouldContain("(BadSignature)");
        (await fixture.LevelAsync(distributor, Sku, "SG1")).OnHand.ShouldBe(10);

        await replica.PublishAsync(newKey, distributor, 2, 30);
        (await Eventually.Latest(() => fixture.LevelAsync(distributor, Sku, "SG1"), l => l.OnHand == 30)).OnHand.ShouldBe(30);
        replica.KeyReads(distributor).ShouldBe(2);
    }

    /// <summary>One inventory replica on the shared test database and a virtual host of its own, counting its reads of feed keys.</summary>
    private sealed class Replica : IAsyncDisposable
    {
        private readonly FeedKeyReads reads;

        private Replica(InventoryHost host, Uri virtualHost, FeedKeyReads reads)
        {
            Host = host;
            VirtualHost = virtualHost;
            this.reads = reads;
        }

        public InventoryHost Host { get; }

        public Uri VirtualHost { get; }

        public static async Task<Replica> StartAsync(InventoryFixture fixture)
        {
            var virtualHost = await TestInfrastructure.CreateVirtualHostAsync("inventory-feed-keys", TestContext.Current.CancellationToken);
            var reads = new FeedKeyReads();
            try
            {
                var host = await fixture.StartReplicaAsync(
                    virtualHost,
                    new Dictionary<string, string> { ["Inventory:FeedKeyLifetime"] = "01:00:00" },
                    services => services.ConfigureDbContext<InventoryDbContext>(options => options.AddInterceptors(reads)));
                return new Replica(host, virtualHost, reads);
            }
            catch
            {
                await TestInfrastructure.DeleteVirtualHostAsync(virtualHost, CancellationToken.None);
                throw;
            }
        }

        /// <summary>How many times this replica has read the distributor's feed key from the database.</summary>
        public int KeyReads(string distributorId) => reads.Of(distributorId);

        /// <summary>Registers (or replaces) a fresh P-256 feed key through this replica, as ops, and returns the private key.</summary>
        public async Task<ECDsa> RegisterFeedKeyAsync(string distributorId)
        {
            var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var response = await Host.Http.PutAsJsonAsync(
                $"/v1/distributors/{distributorId}/feed-key", new { publicKey = key.ExportSubjectPublicKeyInfoPem() }, TestContext.Current.CancellationToken);
            response.EnsureSuccessStatusCode();
            return key;
        }

        /// <summary>Publishes a one-item snapshot on this replica's stock-feed queue, signed with the key.</summary>
        public Task PublishAsync(ECDsa key, string distributorId, long sequence, long quantity)
        {
            var body = JsonSerializer.Serialize(new
            {
                distributorId,
                sequence,
                kind = "Snapshot",
                items = new[] { new { sku = Sku, warehouse = "SG1", quantityOnHand = quantity, unitPrice = 12000m, currency = "USD", leadTimeDays = 5, minimumOrderQuantity = 1 } },
            });
            return AmqpFeed.PublishAsync(VirtualHost, body, AmqpFeed.Sign(key, body));
        }

        public async ValueTask DisposeAsync()
        {
            await Host.DisposeAsync();
            await TestInfrastructure.DeleteVirtualHostAsync(VirtualHost, CancellationToken.None);
        }
    }

    /// <summary>Counts the queries that read a distributor's feed key alone (the consumer's lookup), by distributor.</summary>
    private sealed class FeedKeyReads : DbCommandInterceptor
    {
        private readonly ConcurrentDictionary<string, int> counts = new(StringComparer.Ordinal);

        public int Of(string distributorId) => counts.GetValueOrDefault(distributorId);

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            Count(command);
            return base.ReaderExecutingAsync(command, eventData, result, cancellationToken);
        }

        public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
        {
            Count(command);
            return base.ReaderExecuting(command, eventData, result);
        }

        private void Count(DbCommand command)
        {
            // The lookup selects the key column and nothing else; the distributor views select every column.
            var text = command.CommandText;
            var select = text.AsSpan(0, Math.Max(0, text.IndexOf("FROM", StringComparison.Ordinal)));
            if (!select.Contains("feed_public_key", StringComparison.Ordinal) || select.Contains("name", StringComparison.Ordinal))
            {
                return;
            }

            foreach (DbParameter parameter in command.Parameters)
            {
                if (parameter.Value is string id)
                {
                    counts.AddOrUpdate(id, 1, (_, n) => n + 1);
                }
            }
        }
    }
}
