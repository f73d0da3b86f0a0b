using System.Buffers.Binary;
using Brokering.ServiceDefaults.Paging;

namespace Brokering.Ordering.Reservations.Listing;

/// <summary>
/// Where a page of the reservation list ended: the last reservation's (submitted time, id), the list's sort key. Handed
/// to buyers as an opaque token; its layout is ours to change (the leading version byte says which one it is).
/// </summary>
/// <remarks>
/// A keyset, not an offset: the next page starts strictly after this key, so reservations submitted meanwhile (newer,
/// so before the cursor in newest-first order) never shift a page and nothing is shown twice or skipped. The submitted
/// time is kept to the microsecond, PostgreSQL's precision, so the key compares equal to the stored one.
/// </remarks>
public readonly record struct ListCursor(DateTimeOffset SubmittedAt, Guid Id)
{
    private const byte Version = 1;
    private const int KeyLength = 24;

    public override string ToString()
    {
        Span<byte> key = stackalloc byte[KeyLength];
        BinaryPrimitives.WriteInt64BigEndian(key, (SubmittedAt.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond);
        Id.TryWriteBytes(key[8..], bigEndian: true, out _);
        return CursorToken.Encode(Version, key);
    }

    /// <summary>Reads a token the list handed out; anything else is refused.</summary>
    public static bool TryParse(string text, out ListCursor cursor)
    {
        cursor = default;
        Span<byte> key = stackalloc byte[KeyLength];
        if (!CursorToken.TryDecode(text, Version, key))
        {
            return false;
        }

        var micros = BinaryPrimitives.ReadInt64BigEndian(key);
        var ticks = DateTimeOffset.UnixEpoch.Ticks + (decimal)micros * TimeSpan.TicksPerMicrosecond;
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }

        cursor = new ListCursor(new DateTimeOffset((long)ticks, TimeSpan.Zero), new Guid(key[8..], bigEndian: true));
        return true;
    }
}
