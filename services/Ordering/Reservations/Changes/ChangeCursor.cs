using System.Buffers.Binary;
using Brokering.ServiceDefaults.Paging;

namespace Brokering.Ordering.Reservations.Changes;

/// <summary>
/// Where a reader of the change feed stands: just after the change with this (transaction order, position). Handed
/// to buyers as an opaque token; its layout is ours to change (the leading version byte says which one it is).
/// </summary>
public readonly record struct ChangeCursor(ulong TransactionOrder, long Position)
{
    private const byte Version = 1;
    private const int KeyLength = 16;

    /// <summary>Before the first change.</summary>
    public static ChangeCursor Start => default;

    public override string ToString()
    {
        Span<byte> key = stackalloc byte[KeyLength];
        BinaryPrimitives.WriteUInt64BigEndian(key, TransactionOrder);
        BinaryPrimitives.WriteInt64BigEndian(key[8..], Position);
        return CursorToken.Encode(Version, key);
    }

    /// <summary>Reads a token this feed handed out; anything else is refused.</summary>
    public static bool TryParse(string text, out ChangeCursor cursor)
    {
        cursor = Start;
        Span<byte> key = stackalloc byte[KeyLength];
        if (!CursorToken.TryDecode(text, Version, key))
        {
            return false;
        }

        var position = BinaryPrimitives.ReadInt64BigEndian(key[8..]);
        if (position < 0)
        {
            return false;
        }

        cursor = new ChangeCursor(BinaryPrimitives.ReadUInt64BigEndian(key), position);
        return true;
    }
}
