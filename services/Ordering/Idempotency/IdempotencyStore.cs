using System.Security.Cryptography;
using System.Text;
using Brokering.Ordering.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Idempotency;

/// <summary>What a request carrying an Idempotency-Key should do.</summary>
public abstract record IdempotencyDecision
{
    /// <summary>First time: go ahead, and complete <see cref="Record"/> in the same transaction as the work.</summary>
    public sealed record Proceed(IdempotencyRecord Record) : IdempotencyDecision;

    /// <summary>Done before with the same body: answer what was answered then.</summary>
    public sealed record Replay(IdempotencyRecord Record) : IdempotencyDecision;

    /// <summary>The first request with this key is still being handled.</summary>
    public sealed record InFlight : IdempotencyDecision;

    /// <summary>The key was used with a different body.</summary>
    public sealed record Mismatch : IdempotencyDecision;
}

/// <summary>
/// Claims an Idempotency-Key per buyer and endpoint with an insert that only one request can win,
/// committed on its own so a concurrent retry sees it in flight. The answer is stored in the same
/// transaction as the work, so a stored answer always means the work is done.
/// </summary>
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

    public async Task<IdempotencyDecision> BeginAsync(string buyerId, string key, string endpoint, string requestHash, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var claimed = await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO idempotency_records (buyer_id, key, endpoint, request_hash, created_at, expires_at)
                VALUES ({buyerId}, {key}, {endpoint}, {requestHash}, {now}, {now + options.Value.IdempotencyKeyLifetime})
                ON CONFLICT DO NOTHING
                """, cancellationToken);
            if (claimed == 1)
            {
                var record = await db.IdempotencyRecords.SingleAsync(
                    r => r.BuyerId == buyerId && r.Key == key && r.Endpoint == endpoint, cancellationToken);
                return new IdempotencyDecision.Proceed(record);
            }

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

            // The claim outlived any request: its process died between claim and answer (the work and the answer
            // commit together, so nothing was done). One retry takes the claim over, compare-and-set on its time;
            // should the first request still finish, the reservation id derived from the key stops a second one.
            var takenOver = await db.Database.ExecuteSqlInterpolatedAsync($"""
                UPDATE idempotency_records SET created_at = {now}
                WHERE buyer_id = {buyerId} AND key = {key} AND endpoint = {endpoint}
                  AND response_status IS NULL AND created_at = {existing.CreatedAt}
                """, cancellationToken);
            if (takenOver == 1)
            {
                var record = await db.IdempotencyRecords.SingleAsync(
                    r => r.BuyerId == buyerId && r.Key == key && r.Endpoint == endpoint, cancellationToken);
                return new IdempotencyDecision.Proceed(record);
            }
        }

        return new IdempotencyDecision.InFlight();
    }

    /// <summary>Gives the key up after the work failed, so the buyer can retry.</summary>
    public async Task AbandonAsync(IdempotencyRecord record) =>
        await db.IdempotencyRecords
            .Where(r => r.BuyerId == record.BuyerId && r.Key == record.Key && r.Endpoint == record.Endpoint && r.ResponseStatus == null)
            .ExecuteDeleteAsync(CancellationToken.None);
}
