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

    /// <summary>Earliest instant a request body may give (an effective instant, a validity, an "as of"): 2000-01-01 UTC.</summary>
    public static readonly DateTimeOffset EarliestInstant = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The instants a request body gives are before this one: 2100-01-01 UTC.</summary>
    public static readonly DateTimeOffset InstantsBefore = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Longest free text a caller writes into a stored record (a reason, a description, a citation).</summary>
    public const int MaxFreeTextLength = 2_000;

    /// <summary>
    /// Whether <paramref name="value"/> is text Brokering may store and pass on as it is: no NUL (which PostgreSQL
    /// <c>text</c> and <c>jsonb</c> cannot hold, so a stored NUL fails the write and a NUL in a message fails it at every
    /// redelivery) and no other control character (they forge lines in logs and consoles), except tab, line feed and
    /// carriage return in free text (<paramref name="multiline"/>). Every stored string a caller sends, on every
    /// channel, is checked with this besides its length.
    /// </summary>
    public static bool IsPlainText(string value, bool multiline = false)
    {
        ArgumentNullException.ThrowIfNull(value);
        foreach (var c in value)
        {
            if (char.IsControl(c) && !(multiline && (c is '\t' or '\n' or '\r')))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="key"/> is an idempotency key: 1 to <see cref="MaxIdempotencyKeyLength"/> characters, none a control character.</summary>
    public static bool IsIdempotencyKey(string key) =>
        key.Length is > 0 and <= MaxIdempotencyKeyLength && IsPlainText(key);

    /// <summary>Whether <paramref name="price"/> is a unit price Brokering keeps exactly: 0 to <see cref="MaxUnitPrice"/>, at most nine decimals.</summary>
    public static bool IsUnitPrice(decimal price) =>
        price >= 0m && price <= MaxUnitPrice && decimal.Round(price, PriceDecimals) == price;
}
