namespace Brokering.Inventory.Data;

/// <summary>A catalogue SKU that distributors may report stock for.</summary>
public sealed class Sku
{
    public required string Id { get; init; }
}

/// <summary>A distributor, and where its feed stands.</summary>
public sealed class Distributor
{
    public required string Id { get; init; }

    public required string Name { get; set; }

    /// <summary>Sequence of the last applied update (0 before the first).</summary>
    public long LastSequence { get; set; }

    /// <summary>When the last update was applied; null before the first. Drives freshness.</summary>
    public DateTimeOffset? LastFeedAt { get; set; }

    /// <summary>
    /// Some sequence below <see cref="LastSequence"/> is still missing (a row in <c>feed_gaps</c>): the distributor's
    /// levels lack a change, so its stock is not offered. The missing delta or a newer snapshot closes it.
    /// </summary>
    public bool GapOpen { get; set; }

    /// <summary>Sequence of the last applied snapshot (0 before the first): every update below it is superseded.</summary>
    public long LastSnapshotSequence { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>
    /// The distributor's ECDSA P-256 public key (SubjectPublicKeyInfo, DER) that signs its raw AMQP feed;
    /// null until one is registered, and until then nothing on the AMQP queue is accepted for it.
    /// </summary>
    public byte[]? FeedPublicKey { get; set; }
}

/// <summary>
/// A range of sequence numbers a distributor's feed skipped and has not delivered yet. Written only by the stock
/// feed ingest, under the distributor's row lock. <c>(0, 0)</c> stands for a gap opened before ranges were tracked:
/// no delta can fill it (sequences start at 1), only a snapshot closes it.
/// </summary>
public sealed class FeedGap
{
    public required string DistributorId { get; init; }

    /// <summary>First missing sequence.</summary>
    public long FromSequence { get; init; }

    /// <summary>Last missing sequence (inclusive).</summary>
    public long ToSequence { get; init; }
}

/// <summary>Stock of one SKU in one warehouse of one distributor, and how much of it is spoken for.</summary>
public sealed class StockLevel
{
    public required string DistributorId { get; init; }

    public required string Sku { get; init; }

    public required string Warehouse { get; init; }

    /// <summary>Units on hand as last reported by the distributor.</summary>
    public long OnHand { get; set; }

    /// <summary>Units held by active holds.</summary>
    public long Held { get; set; }

    /// <summary>Units of committed holds.</summary>
    public long Committed { get; set; }

    /// <summary>Scratch column: the units granted by the last conditional hold update (lets one UPDATE report what it did).</summary>
    public long LastGranted { get; set; }

    public decimal UnitPrice { get; set; }

    public required string Currency { get; set; }

    public int LeadTimeDays { get; set; }

    public long MinimumOrderQuantity { get; set; } = 1;

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Where a hold is in its life.</summary>
public enum HoldStatus
{
    /// <summary>Units held, counted in the level's <c>held</c>.</summary>
    Active,

    /// <summary>Units committed, counted in the level's <c>committed</c>.</summary>
    Committed,

    /// <summary>Released by the reservation (or as part of a shortfall's re-allocation).</summary>
    Released,

    /// <summary>Lapsed uncommitted; released by the expiry sweeper.</summary>
    Expired,

    /// <summary>The feed dropped below what was held; the units were given back to the level and the reservation must re-allocate.</summary>
    Shortfall,
}

/// <summary>Units of one level held for one reservation.</summary>
public sealed class Hold
{
    public Guid Id { get; init; }

    public Guid ReservationId { get; init; }

    public int PlanVersion { get; init; }

    public required string DistributorId { get; init; }

    public required string Sku { get; init; }

    public required string Warehouse { get; init; }

    public long Quantity { get; init; }

    public decimal UnitPrice { get; init; }

    public required string Currency { get; init; }

    /// <summary>The buyer tenant the units are held for, as ordering names it; null for holds placed before it was sent.</summary>
    public string? BuyerOrganisation { get; init; }

    public HoldStatus Status { get; set; }

    public DateTimeOffset ExpiresAt { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? ClosedAt { get; set; }

    public string? Reason { get; set; }
}

/// <summary>The result of a PlaceHolds call, kept so a retry of the same (reservation, plan version) replays it.</summary>
public sealed class HoldRequest
{
    public Guid ReservationId { get; init; }

    public int PlanVersion { get; init; }

    /// <summary>The response as JSON.</summary>
    public required string Result { get; set; }

    public DateTimeOffset CreatedAt { get; init; }
}
