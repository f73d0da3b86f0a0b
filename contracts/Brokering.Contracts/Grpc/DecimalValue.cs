namespace Brokering.Contracts.Grpc.Common;

/// <summary>Conversions between the wire's units + nanos and <see cref="decimal"/>.</summary>
public sealed partial class DecimalValue
{
    private const decimal NanoFactor = 1_000_000_000m;

    private const int MaxNanos = 999_999_999;

    /// <summary>Builds a wire value from a decimal (rounded to nine decimal places).</summary>
    /// <exception cref="OverflowException">The whole part does not fit in an <c>int64</c>; see <see cref="TryFromDecimal"/>.</exception>
    public static DecimalValue FromDecimal(decimal value) =>
        TryFromDecimal(value, out var wire) ? wire : throw new OverflowException($"{value} does not fit a DecimalValue (int64 units).");

    /// <summary>Builds a wire value from a decimal (rounded to nine decimal places); false when the whole part does not fit in an <c>int64</c>.</summary>
    public static bool TryFromDecimal(decimal value, out DecimalValue wire)
    {
        var rounded = decimal.Round(value, 9, MidpointRounding.ToEven);
        var whole = decimal.Truncate(rounded);
        if (whole < long.MinValue || whole > long.MaxValue)
        {
            wire = new DecimalValue();
            return false;
        }

        var units = decimal.ToInt64(whole);
        wire = new DecimalValue { Units = units, Nanos = decimal.ToInt32((rounded - units) * NanoFactor) };
        return true;
    }

    /// <summary>
    /// Whether the value is well formed as the proto defines it: <c>nanos</c> in (-1e9, 1e9) and of the same sign as
    /// <c>units</c>. A caller's malformed value must be refused, not read: it would silently mean another number.
    /// </summary>
    public bool IsWellFormed =>
        Nanos is >= -MaxNanos and <= MaxNanos
        && !(Units > 0 && Nanos < 0)
        && !(Units < 0 && Nanos > 0);

    /// <summary>The value as a decimal.</summary>
    public decimal ToDecimal() => Units + (Nanos / NanoFactor);

    /// <summary>Converts a wire value to a decimal; a missing value is zero.</summary>
    public static implicit operator decimal(DecimalValue? value) => value?.ToDecimal() ?? 0m;

    /// <summary>Converts a decimal to a wire value.</summary>
    /// <exception cref="OverflowException">The whole part does not fit in an <c>int64</c>.</exception>
    public static implicit operator DecimalValue(decimal value) => FromDecimal(value);
}
