namespace Brokering.Ordering.Activities;

/// <summary>
/// Units of one SKU that one allocation plan of a reservation may hold, counted against the buyer's cap
/// (<see cref="OrderingOptions.MaxUnitsPerBuyerPerSku"/>) while the plan is in flight. Once the plan has
/// landed the holds on the saga row count instead, and the claim no longer does.
/// </summary>
public sealed class BuyerSkuClaim
{
    public Guid ReservationId { get; set; }
    public string Sku { get; set; } = null!;
    public string BuyerId { get; set; } = null!;

    /// <summary>The plan the claim was made for; a newer plan of the reservation replaces it.</summary>
    public int PlanVersion { get; set; }

    /// <summary>Units granted to the plan, beyond what the reservation already held when it was made.</summary>
    public long Units { get; set; }

    public DateTimeOffset ClaimedAt { get; set; }
}
