namespace Brokering.Contracts.Grpc.Common;

/// <summary>Conversions between the wire's units + nanos and <see cref="decimal"/>.</summary>
public sealed partial class DecimalValue
{
    private const decimal NanoFactor = 1_000_000_000m;

    /// <summary>Builds a wire value from a decimal (rounded to nine decimal places).</summary>
    public static DecimalValue FromDecimal(decimal value)
    {
        var rounded = decimal.Round(value, 9, MidpointRounding.ToEven);
        var units = decimal.ToInt64(decimal.Truncate(rounded));
        var nanos = decimal.ToInt32((rounded - units) * NanoFactor);
        return new DecimalValue { Units = units, Nanos = nanos };
    }

    /// <summary>The value as a decimal.</summary>
    public decimal ToDecimal() => Units + (Nanos / NanoFactor);

    /// <summary>Converts a wire value to a decimal; a missing value is zero.</summary>
    public static implicit operator decimal(DecimalValue? value) => value?.ToDecimal() ?? 0m;

    /// <summary>Converts a decimal to a wire value.</summary>
    public static implicit operator DecimalValue(decimal value) => FromDecimal(value);
}
