namespace Brokering.Contracts;

/// <summary>
/// The largest numbers and strings any Brokering API accepts from a tenant, on every channel (REST, gRPC, AMQP).
/// They are far above anything a real order or feed carries, and small enough that every value fits every
/// conversion downstream (<c>numeric(28,9)</c>, gRPC <c>int64</c> units, sums of quantities in <c>bigint</c>), so
/// one tenant's absurd number is refused at the door instead of failing another tenant's request later.
/// </summary>
public static class InputBounds
{
    /// <summary>Highest unit price, in any currency: one trillion (10^12).</summary>
    public const decimal MaxUnitPrice = 1_000_000_000_000m;

    /// <summary>Most decimal places of a price (what <c>numeric(28,9)</c> and gRPC <c>nanos</c> keep).</summary>
    public const int PriceDecimals = 9;

    /// <summary>Most units of one SKU in one warehouse, one line or one change: one billion (10^9).</summary>
    public const long MaxQuantity = 1_000_000_000;

    /// <summary>Highest stock feed sequence: 2^53 - 1, the largest integer every JSON reader keeps exactly.</summary>
    public const long MaxSequence = 9_007_199_254_740_991;

    /// <summary>Longest lead time a distributor can quote, in days (ten years).</summary>
    public const int MaxLeadTimeDays = 3_650;

    /// <summary>Longest SKU, in its canonical spelling (<see cref="Sku.Normalize"/>).</summary>
    public const int MaxSkuLength = 100;

    /// <summary>Longest <c>tenant</c> claim (buyer organisation or distributor id) a token may carry.</summary>
    public const int MaxTenantLength = 100;

    /// <summary>Longest <c>sub</c> claim a token may carry.</summary>
    public const int MaxSubjectLength = 200;

    /// <summary>Longest idempotency key (REST <c>Idempotency-Key</c>, gRPC <c>idempotency_key</c>).</summary>
    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>Whether <paramref name="price"/> is a unit price Brokering keeps exactly: 0 to <see cref="MaxUnitPrice"/>, at most nine decimals.</summary>
    public static bool IsUnitPrice(decimal price) =>
        price >= 0m && price <= MaxUnitPrice && decimal.Round(price, PriceDecimals) == price;
}
