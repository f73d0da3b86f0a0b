using System.Globalization;
using System.Text.Json;
using Brokering.Contracts;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Reservations.Bulk;

/// <summary>
/// Submits each item of a bulk submission exactly as <c>POST /v1/reservations</c> would, one after another, and
/// answers each on its own: never all or nothing.
/// </summary>
/// <remarks>
/// Each item goes through <see cref="ReservationDesk.SubmitAsync"/> in a scope of its own, as a single request would,
/// so validation, the idempotency claim (keyed like a single submission: an item's key replays a single submission's
/// and the other way round), the catalogue check and the outbox behave identically, and an item that fails leaves
/// nothing behind for the next. Every item after the first is charged to the caller's rate limit like a request of its
/// own (the request paid for the first); an item over the budget is answered 429 and can be sent again.
/// </remarks>
public sealed class BulkSubmitter(IServiceScopeFactory scopes, IOptions<RateLimiterOptions> rateLimiting, IOptions<OrderingOptions> options)
{
    /// <param name="http">The call, whose caller's rate limit each item is charged to.</param>
    /// <param name="buyerId">The calling buyer.</param>
    /// <param name="entries">The items as read.</param>
    /// <param name="collection">What the request calls its list of items, for error paths: <c>items</c> (REST), <c>reservations</c> (gRPC).</param>
    /// <param name="cancellationToken">Stops before the next item; those already stored stay stored.</param>
    public async Task<BulkAnswer> SubmitAsync(
        HttpContext http, string buyerId, IReadOnlyList<BulkEntry> entries, string collection, CancellationToken cancellationToken)
    {
        var results = new List<BulkItemResult>(entries.Count);
        for (var index = 0; index < entries.Count; index++)
        {
            results.Add(await SubmitOneAsync(http, buyerId, index, entries[index], collection, cancellationToken));
        }

        return new BulkAnswer(
            results.Count(r => r.Outcome == Outcomes.Accepted),
            results.Count(r => r.Outcome == Outcomes.Replayed),
            results.Count(r => r.Outcome is not (Outcomes.Accepted or Outcomes.Replayed)),
            results);
    }

    /// <summary>The outcomes an item can have.</summary>
    public static class Outcomes
    {
        public const string Accepted = "Accepted";
        public const string Replayed = "Replayed";
        public const string Invalid = "Invalid";
        public const string KeyReused = "KeyReused";
        public const string KeyInFlight = "KeyInFlight";
        public const string RateLimited = "RateLimited";

        /// <summary>The catalogue copy cannot vouch for a line's SKU yet: nothing stored, the key not used up; send it again later.</summary>
        public const string Unavailable = "Unavailable";
    }

    private static readonly string IdempotencyKeyRequired =
        $"Required in a bulk submission: 1 to {InputBounds.MaxIdempotencyKeyLength} characters, no control characters, unique to this reservation.";

    private async Task<BulkItemResult> SubmitOneAsync(
        HttpContext http, string buyerId, int index, BulkEntry entry, string collection, CancellationToken cancellationToken)
    {
        var key = entry.Key;
        if (index > 0 && rateLimiting.Value.GlobalLimiter is { } limiter)
        {
            using var lease = limiter.AttemptAcquire(http, 1);
            if (!lease.IsAcquired)
            {
                return new BulkItemResult(index, key, Outcomes.RateLimited, StatusCodes.Status429TooManyRequests,
                    Detail: "The rate limit for this caller was reached; send this item again later.", Rows: entry.Rows);
            }
        }

        if (entry.Item is null)
        {
            return Invalid(collection, index, key, entry.Errors, entry.Rows);
        }

        if (entry.Errors.Count > 0)
        {
            return Invalid(collection, index, key, WithTheRestOfItsErrors(entry.Item, entry.Errors), entry.Rows);
        }

        if (key is null || !InputBounds.IsIdempotencyKey(key))
        {
            return Invalid(collection, index, key, new Dictionary<string, string[]>
            {
                ["idempotencyKey"] = [IdempotencyKeyRequired],
            }, entry.Rows);
        }

        await using var scope = scopes.CreateAsyncScope();
        var desk = scope.ServiceProvider.GetRequiredService<ReservationDesk>();
        var result = await desk.SubmitAsync(buyerId, entry.Item.ToRequest(), key, cancellationToken);
        return result switch
        {
            DeskResult.Accepted accepted => new BulkItemResult(index, key, Outcomes.Accepted, StatusCodes.Status202Accepted,
                accepted.Reservation.Id, accepted.Reservation.Status, ReservationDesk.LocationOf(accepted.Reservation.Id), Rows: entry.Rows),
            DeskResult.Replayed replayed => Replay(index, key, replayed, entry.Rows),
            DeskResult.Invalid invalid => Invalid(collection, index, key, invalid.Errors.AsReadOnly(), entry.Rows),
            DeskResult.CatalogueUndecided undecided => new BulkItemResult(index, key, Outcomes.Unavailable, StatusCodes.Status503ServiceUnavailable,
                Errors: undecided.Lines.ToDictionary(error => PathOf(collection, index, error.Key), error => error.Value, StringComparer.Ordinal),
                Detail: "The catalogue cannot be checked for this item's SKUs yet; nothing was stored and its key was not used: send this item again later.",
                Rows: entry.Rows),
            DeskResult.KeyReused => new BulkItemResult(index, key, Outcomes.KeyReused, StatusCodes.Status422UnprocessableEntity,
                Detail: "This idempotencyKey was already used with a different reservation.", Rows: entry.Rows),
            _ => new BulkItemResult(index, key, Outcomes.KeyInFlight, StatusCodes.Status409Conflict,
                Detail: "A request with this idempotencyKey is still being processed; send this item again shortly.", Rows: entry.Rows),
        };
    }

    /// <summary>
    /// A partly read item's errors with those a submission of it would have met besides: a value that could not be read
    /// keeps its own error (its field holds a default the validator would refuse for another reason).
    /// </summary>
    private Dictionary<string, string[]> WithTheRestOfItsErrors(BulkReservationItem item, IReadOnlyDictionary<string, string[]> unread)
    {
        var errors = new Dictionary<string, string[]>(unread, StringComparer.Ordinal);
        foreach (var (path, messages) in Submit.SubmitReservationValidator.Validate(item.ToRequest(), options.Value))
        {
            errors.TryAdd(path, messages);
        }

        if (item.IdempotencyKey is not { } key || !InputBounds.IsIdempotencyKey(key))
        {
            errors.TryAdd("idempotencyKey", [IdempotencyKeyRequired]);
        }

        return errors;
    }

    /// <summary>The first answer to the key, as stored with it: the reservation as it was accepted.</summary>
    private static BulkItemResult Replay(int index, string key, DeskResult.Replayed replayed, IReadOnlyList<int>? rows)
    {
        using var body = JsonDocument.Parse(replayed.Body);
        var id = body.RootElement.TryGetProperty("id", out var stored) ? stored.GetGuid() : (Guid?)null;
        var status = body.RootElement.TryGetProperty("status", out var storedStatus) ? storedStatus.GetString() : null;
        return new BulkItemResult(index, key, Outcomes.Replayed, replayed.Status, id, status, replayed.Location, Rows: rows);
    }

    private static BulkItemResult Invalid(string collection, int index, string? key, IReadOnlyDictionary<string, string[]> errors, IReadOnlyList<int>? rows) =>
        new(index, key, Outcomes.Invalid, StatusCodes.Status400BadRequest,
            Errors: errors.ToDictionary(error => PathOf(collection, index, error.Key), error => error.Value, StringComparer.Ordinal), Rows: rows);

    /// <summary>A field's path within the whole request, e.g. <c>items[3].lines[0].quantity</c>.</summary>
    private static string PathOf(string collection, int index, string path) =>
        string.Create(CultureInfo.InvariantCulture, $"{collection}[{index}]{(path.Length == 0 ? string.Empty : path.StartsWith('[') ? path : "." + path)}");
}
