using Brokering.ServiceDefaults.Paging;

namespace Brokering.Inventory.DistributorOrders;

/// <summary>
/// Where a page of a distributor's list ended: the last entry's (instant, id), the list's sort key (a hold's creation and
/// id; an order's commit instant and reservation id). Handed out as an opaque token whose version byte also says which
/// list made it, so a holds cursor is refused by the orders list and the other way round.
/// </summary>
/// <remarks>
/// A keyset: the next page starts strictly after this key. The instant is kept to the microsecond, PostgreSQL's
/// precision, so it compares equal to the stored one.
/// </remarks>
public readonly record struct DistributorCursor(DateTimeOffset At, Guid Id)
{
    /// <summary>Layout version of a cursor of the holds list.</summary>
    public const byte HoldsList = 1;

    /// <summary>Layout version of a cursor of the orders list.</summary>
    public const byte OrdersList = 2;

    /// <summary>The token for this key, for the list <paramref name="list"/>.</summary>
    public string ToToken(byte list) => InstantIdKey.Encode(list, At, Id);

    /// <summary>Reads a token the list <paramref name="list"/> handed out; anything else is refused.</summary>
    public static bool TryParse(string text, byte list, out DistributorCursor cursor)
    {
        var read = InstantIdKey.TryDecode(text, list, out var at, out var id);
        cursor = read ? new DistributorCursor(at, id) : default;
        return read;
    }
}
