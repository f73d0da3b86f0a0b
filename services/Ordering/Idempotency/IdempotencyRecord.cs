namespace Brokering.Ordering.Idempotency;

/// <summary>What a POST with an Idempotency-Key did, so a retry gets the same answer.</summary>
public sealed class IdempotencyRecord
{
    public required string BuyerId { get; init; }
    public required string Key { get; init; }
    public required string Endpoint { get; init; }

    /// <summary>SHA-256 of the request body: the same key with another body is refused.</summary>
    public required string RequestHash { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Null while the first request is in flight.</summary>
    public int? ResponseStatus { get; set; }

    public string? ResponseBody { get; set; }
    public string? ResponseLocation { get; set; }
}
