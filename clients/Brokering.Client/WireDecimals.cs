using WireDecimal = Brokering.Contracts.Grpc.Common.DecimalValue;

namespace Brokering.Client;

/// <summary>Decimals on the gRPC wire (<c>brokering.common.v1.DecimalValue</c>: 64-bit units and nine decimal places of nanos).</summary>
internal static class WireDecimals
{
    /// <summary>The wire's units + nanos, exactly: a value the wire cannot carry is refused, never rounded into another.</summary>
    public static WireDecimal ToWire(decimal value, string field)
    {
        var whole = decimal.Truncate(value);
        var nanos = (value - whole) * 1_000_000_000m;
        if (whole < long.MinValue || whole > long.MaxValue || nanos != decimal.Truncate(nanos))
        {
            throw new ArgumentException($"{field}: {value} has more than nine decimal places or does not fit the wire's 64-bit units.", nameof(value));
        }

        return new WireDecimal { Units = decimal.ToInt64(whole), Nanos = decimal.ToInt32(nanos) };
    }

    public static decimal FromWire(WireDecimal? value) => value is null ? 0m : value.Units + (value.Nanos / 1_000_000_000m);
}
