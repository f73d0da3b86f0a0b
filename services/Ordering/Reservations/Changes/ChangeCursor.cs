using System.Buffers.Binary;
using System.Buffers.Text;

namespace Brokering.Ordering.Reservations.Changes;

/// <summary>
/// Where a reader of the change feed stands: just after the change with this (transaction order, position). Handed
/// to buyers as an opaque token; its layout is ours to change (the leading version byte says which one it is).
/// </summary>
public readonly record struct ChangeCursor(ulong TransactionOrder, long Position)
{
    private const byte Version = 1;
    private const int Length = 17;

    /// <summary>Before the first change.</summary>
    public static ChangeCursor Start => default;

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        bytes[0] = Version;
        BinaryPrimitives.WriteUInt64BigEndian(bytes[1..], TransactionOrder);
        BinaryPrimitives.WriteInt64BigEndian(bytes[9..], Position);
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>Reads a token this feed handed out; anything else is refused.</summary>
    public static bool TryParse(string text, out ChangeCursor cursor)
    {
        cursor = Start;
        Span<byte> bytes = stackalloc byte[Length + 3];
        int written;
        try
        {
            if (text.Length > 32 || !Base64Url.TryDecodeFromChars(text, bytes, out written))
            {
                return false;
            }
        }
        catch (FormatException)
        {
            return false;
        }

        if (written != Length || bytes[0] != Version)
        {
            return false;
        }

        var position = BinaryPrimitives.ReadInt64BigEndian(bytes[9..]);
        if (position < 0)
        {
            return false;
        }

        cursor = new ChangeCursor(BinaryPrimitives.ReadUInt64BigEndian(bytes[1..]), position);
        return true;
    }
}
