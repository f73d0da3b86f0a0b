using System.Security.Cryptography;
using System.Text;
using Brokering.Ordering.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Idempotency;

/// <summary>What a request carrying an Idempotency-Key should do.</summary>
public abstract record IdempotencyDecision
{
    /// <summary>First time: go ahead, and complete <see cref="Record"/> (tracked) before saving the work.</summary>
    public sealed record Proceed(IdempotencyRecord Record) : IdempotencyDecision;

    /// <summary>Done before with the same body: answer what was answered then.</summary>
    public sealed record Replay(IdempotencyRecord Record) : IdempotencyDecision;

    /// <summary>A claim committed without its answer (by an older version of ordering) is still within its lease.</summary>
    public sealed record InFlight : IdempotencyDecision;

    /// <summary>The key was used with a different body.</summary>
    public sealed record Mismatch : IdempotencyDecision;
}

/// <summary>
/// Claims an Idempotency-Key per buyer and endpoint inside the transaction that does the work, with one insert that
/// only one request can win: the answer is stored by that same transaction, so a committed record always carries
/// its answer and the work is done. A concurrent request with the same key waits on the unique key until the first
/// transaction ends, then sees its committed answer (replay, or mismatch for another body), or, had it rolled back,
/// claims the key itself. Nothing is committed for a request that fails, so there is no claim to give up.
/// </summary>
/// <remarks>
/// A record without an answer can still be found: one left by a version of ordering that committed its claim on its
/// own before the work. It is in flight while its lease runs and taken over after.
/// </remarks>
public sealed class IdempotencyStore(OrderingDbContext db, TimeProvider clock, IOptions<OrderingOptions> options)
{
    public static string Hash(string canonicalBody) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalBody)));

    /// <summary>A reservation id that a retry with the same key computes again, so even a lost answer cannot make a second reservation.</summary>
    public static Guid ReservationIdFor(string buyerId, string key)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{buyerId}\n{key}"));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    /// <summary>
    /// Decides what the request does with its key. Must run in the (READ COMMITTED) transaction that does the work;
    /// on <see cref="IdempotencyDecision.Proceed"/> the record is tracked, so completing it and saving the work stores
    /// the answer with it.
    /// </summary>
    public async Task<IdempotencyDecision> ClaimAsync(string buyerId, string key, string endpoint, string requestHash, CancellationToken cancellationToken)
    {
        if (db.Database.CurrentTransaction is null)
        {
            throw new InvalidOperationException("An Idempotency-Key must be claimed in the transaction that does the work; none is open.");
        }

        var now = clock.GetUtcNow();
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var expiresAt = now + options.Value.IdempotencyKeyLifetime;
            var claimed = await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO idempotency_records (buyer_id, key, endpoint, request_hash, created_at, expires_at)
                VALUES ({buyerId}, {key}, {endpoint}, {requestHash}, {now}, {expiresAt})
                ON CONFLICT DO NOTHING
                """, cancellationToken);
            if (claimed == 1)
            {
                return new IdempotencyDecision.Proceed(Track(buyerId, key, endpoint, requestHash, now, expiresAt));
            }

            // The insert waited for any transaction holding the key; what it left is committed and visible now.
            var existing = await db.IdempotencyRecords.AsNoTracking().SingleOrDefaultAsync(
                r => r.BuyerId == buyerId && r.Key == key && r.Endpoint == endpoint, cancellationToken);
            if (existing is null)
            {
                continue;
            }

            if (existing.ExpiresAt <= now)
            {
                await db.IdempotencyRecords
                    .Where(r => r.BuyerId == buyerId && r.Key == key && r.Endpoint == endpoint && r.ExpiresAt <= now)
                    .ExecuteDeleteAsync(cancellationToken);
                continue;
            }

            if (!string.Equals(existing.RequestHash, requestHash, StringComparison.Ordinal))
            {
                return new IdempotencyDecision.Mismatch();
            }

            if (existing.ResponseStatus is not null)
            {
                return new IdempotencyDecision.Replay(existing);
            }

            if (existing.CreatedAt + options.Value.IdempotencyClaimLease > now)
            {
                return new IdempotencyDecision.InFlight();
            }

            // A claim committed without its answer outlived any request: its process died between claim and answer.
            // Take it over, compare-and-set on its time; should that request still finish, the reservation id derived
            // from the key stops a second reservation.
            var takenOver = await db.Database.ExecuteSqlInterpolatedAsync($"""
                UPDATE idempotency_records SET created_at = {now}
                WHERE buyer_id = {buyerId} AND key = {key} AND endpoint = {endpoint}
                  AND response_status IS NULL AND created_at = {existing.CreatedAt}
                """, cancellationToken);
            if (takenOver == 1)
            {
                return new IdempotencyDecision.Proceed(Track(buyerId, key, endpoint, requestHash, now, existing.ExpiresAt));
            }
        }

        return new IdempotencyDecision.InFlight();
    }

    // The row was just written with exactly these values: track it as it is, so completing it is one UPDATE, not a read first.
    private IdempotencyRecord Track(string buyerId, string key, string endpoint, string requestHash, DateTimeOffset createdAt, DateTimeOffset expiresAt)
    {
        var record = new IdempotencyRecord
        {
            BuyerId = buyerId,
            Key = key,
            Endpoint = endpoint,
            RequestHash = requestHash,
            CreatedAt = createdAt,
            ExpiresAt = expiresAt,
        };
        db.IdempotencyRecords.Attach(record);
        return record;
    }
}
