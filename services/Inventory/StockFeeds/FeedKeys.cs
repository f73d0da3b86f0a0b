using System.Collections.Concurrent;
using Brokering.Inventory.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Inventory.StockFeeds;

/// <summary>What the database says about a distributor's feed key: whether the distributor is registered, and its key (null: none).</summary>
internal readonly record struct RegisteredFeedKey(bool DistributorRegistered, byte[]? PublicKey);

/// <summary>
/// Distributors' registered feed keys, kept in memory for <see cref="InventoryOptions.FeedKeyLifetime"/> so the AMQP
/// feed does not read the database for every message. A key replaced through this process (<see cref="Replaced"/>) is
/// never used again here, not even by a read that was under way during the replacement. Another replica keeps the key
/// it read until its entry expires: after a rotation, a feed signed with the old key can still be accepted by another
/// replica for at most <see cref="InventoryOptions.FeedKeyLifetime"/>. Only keys are kept; an unknown distributor or one
/// without a key is read again each time, so registering a first key takes effect everywhere at once.
/// </summary>
internal sealed class FeedKeys(IOptions<InventoryOptions> options, TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);

    // Bumped by every replacement: an entry read under an older generation may hold the replaced key, so it is not
    // used. One counter for all distributors keeps this simple; rotations are rare, and each costs one re-read per
    // distributor.
    private long generation;

    public async Task<RegisteredFeedKey> FindAsync(string distributorId, InventoryDbContext db, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        // Read before the database: a replacement committed after this read bumps the generation and voids what we store.
        var readUnder = Volatile.Read(ref generation);
        if (entries.TryGetValue(distributorId, out var entry) && entry.Generation == readUnder && entry.ExpiresAt > now)
        {
            return new RegisteredFeedKey(true, entry.PublicKey);
        }

        var registered = await db.Distributors.AsNoTracking()
            .Where(d => d.Id == distributorId)
            .Select(d => new { d.FeedPublicKey })
            .SingleOrDefaultAsync(cancellationToken);
        if (registered is null)
        {
            return new RegisteredFeedKey(false, null);
        }

        var lifetime = options.Value.FeedKeyLifetime;
        if (registered.FeedPublicKey is { } key && lifetime > TimeSpan.Zero)
        {
            entries[distributorId] = new Entry(key, readUnder, now + lifetime);
        }

        return new RegisteredFeedKey(true, registered.FeedPublicKey);
    }

    /// <summary>Forgets a distributor's key; called after its replacement is committed, before the caller is answered.</summary>
    public void Replaced(string distributorId)
    {
        Interlocked.Increment(ref generation);
        entries.TryRemove(distributorId, out _);
    }

    private sealed record Entry(byte[] PublicKey, long Generation, DateTimeOffset ExpiresAt);
}
