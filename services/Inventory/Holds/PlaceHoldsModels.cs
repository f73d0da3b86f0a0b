namespace Brokering.Inventory.Holds;

/// <summary>Units wanted at one distributor's warehouse.</summary>
public sealed record HoldLine(string Sku, string DistributorId, string Warehouse, long Quantity, decimal? MaxUnitPrice);

/// <summary>Holds to place for one version of a reservation's allocation plan; (ReservationId, PlanVersion) is the idempotency key.</summary>
/// <param name="ReservationId">The reservation holding.</param>
/// <param name="PlanVersion">Version of its allocation plan.</param>
/// <param name="ExpiresAt">When the holds lapse unless committed.</param>
/// <param name="Holds">What to hold where.</param>
/// <param name="BuyerOrganisation">
/// The buyer tenant the holds are for, kept on each hold so the distributor sees who ordered; null from a caller that
/// does not say (it predates the field).
/// </param>
public sealed record PlaceHoldsCommand(
    Guid ReservationId, int PlanVersion, DateTimeOffset ExpiresAt, IReadOnlyList<HoldLine> Holds, string? BuyerOrganisation = null)
{
    /// <summary>Field path → message for every problem; empty when the command may run.</summary>
    public Dictionary<string, string[]> Validate(DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>();
        if (ReservationId == Guid.Empty)
        {
            errors["reservationId"] = ["reservationId is required."];
        }

        if (PlanVersion < 0)
        {
            errors["planVersion"] = ["planVersion must not be negative."];
        }

        if (ExpiresAt <= now)
        {
            errors["expiresAt"] = [$"expiresAt must lie in the future (was {ExpiresAt:O}, now {now:O})."];
        }

        if (BuyerOrganisation is { } buyer
            && (buyer.Length > Brokering.Contracts.InputBounds.MaxTenantLength || buyer.Any(char.IsControl)))
        {
            errors["buyerOrganisation"] =
                [$"buyerOrganisation is at most {Brokering.Contracts.InputBounds.MaxTenantLength} characters, with no control characters."];
        }

        if (Holds.Count == 0)
        {
            errors["holds"] = ["At least one hold is required."];
        }

        for (var i = 0; i < Holds.Count; i++)
        {
            var hold = Holds[i];
            if (string.IsNullOrWhiteSpace(hold.Sku))
            {
                errors[$"holds[{i}].sku"] = ["sku is required."];
            }

            if (string.IsNullOrWhiteSpace(hold.DistributorId))
            {
                errors[$"holds[{i}].distributorId"] = ["distributorId is required."];
            }

            if (string.IsNullOrWhiteSpace(hold.Warehouse))
            {
                errors[$"holds[{i}].warehouse"] = ["warehouse is required."];
            }

            if (hold.Quantity <= 0)
            {
                errors[$"holds[{i}].quantity"] = [$"quantity must be positive (was {hold.Quantity})."];
            }

            if (hold.MaxUnitPrice is < 0)
            {
                errors[$"holds[{i}].maxUnitPrice"] = ["maxUnitPrice must not be negative."];
            }
        }

        return errors;
    }
}

/// <summary>What one requested hold got; <c>HoldId</c> is null when nothing was held.</summary>
public sealed record PlacedHoldResult(
    Guid? HoldId, string Sku, string DistributorId, string Warehouse, long Requested, long Held, decimal UnitPrice, string Currency, DateTimeOffset ExpiresAt);

/// <summary>The result of PlaceHolds; <c>Replayed</c> when this is a retry answered from the recorded result.</summary>
public sealed record PlaceHoldsResult(IReadOnlyList<PlacedHoldResult> Holds, bool Replayed);
