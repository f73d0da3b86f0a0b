using System.Buffers.Binary;

namespace Brokering.ServiceDefaults.Paging;

/// <summary>
/// The keyset cursor most lists here sort by: an instant and an id, as a <see cref="CursorToken"/> of a given layout.
/// The instant is kept to the microsecond, PostgreSQL's precision, so a key read back compares equal to the stored row.
/// </summary>
public static class InstantIdKey
{
    private const int KeyLength = 24;

    /// <summary>The token for (<paramref name="at"/>, <paramref name="id"/>) under layout <paramref name="version"/>.</summary>
    public static string Encode(byte version, DateTimeOffset at, Guid id)
    {
        Span<byte> key = stackalloc byte[KeyLength];
        BinaryPrimitives.WriteInt64BigEndian(key, (at.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond);
        id.TryWriteBytes(key[8..], bigEndian: true, out _);
        return CursorToken.Encode(version, key);
    }

    /// <summary>Reads a token of layout <paramref name="version"/>; false for anything not made by <see cref="Encode"/> with it.</summary>
    public static bool TryDecode(string text, byte version, out DateTimeOffset at, out Guid id)
    {
        at = default;
        id = default;
        Span<byte> key = stackalloc byte[KeyLength];
        if (!CursorToken.TryDecode(text, version, key))
        {
            return false;
        }

        var ticks = DateTimeOffset.UnixEpoch.Ticks + (decimal)BinaryPrimitives.ReadInt64BigEndian(key) * TimeSpan.TicksPerMicrosecond;
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }

        at = new DateTimeOffset((long)ticks, TimeSpan.Zero);
        id = new Guid(key[8..], bigEndian: true);
        return true;
    }
}
