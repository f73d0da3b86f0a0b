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

    public string ToToken() => InstantIdKey.Encode(Layout, At, Id);

    public static bool TryParse(string text, out DecisionCursor cursor)
    {
        var read = InstantIdKey.TryDecode(text, Layout, out var at, out var id);
        cursor = read ? new DecisionCursor(at, id) : default;
        return read;
    }
}
