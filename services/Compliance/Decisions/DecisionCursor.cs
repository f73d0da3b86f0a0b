using System.Buffers.Binary;
using Brokering.ServiceDefaults.Paging;

namespace Brokering.Compliance.Decisions;

/// <summary>
/// Where a page of the decision search ended: the last decision's (instant, id), the search's sort key, newest first.
/// Handed out as an opaque token; the next page starts strictly before this key. The instant is kept to the
/// microsecond, PostgreSQL's precision, so it compares equal to the stored one.
/// </summary>
internal readonly record struct DecisionCursor(DateTimeOffset At, Guid Id)
{
    private const byte Layout = 1;
    private const int KeyLength = 24;

    public string ToToken()
    {
        Span<byte> key = stackalloc byte[KeyLength];
        BinaryPrimitives.WriteInt64BigEndian(key, (At.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond);
        Id.TryWriteBytes(key[8..], bigEndian: true, out _);
        return CursorToken.Encode(Layout, key);
    }

    public static bool TryParse(string text, out DecisionCursor cursor)
    {
        cursor = default;
        Span<byte> key = stackalloc byte[KeyLength];
        if (!CursorToken.TryDecode(text, Layout, key))
        {
            return false;
        }

        var ticks = DateTimeOffset.UnixEpoch.Ticks + (decimal)BinaryPrimitives.ReadInt64BigEndian(key) * TimeSpan.TicksPerMicrosecond;
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }

        cursor = new DecisionCursor(new DateTimeOffset((long)ticks, TimeSpan.Zero), new Guid(key[8..], bigEndian: true));
        return true;
    }
}
