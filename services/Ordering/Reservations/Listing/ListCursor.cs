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

    public override string ToString() => InstantIdKey.Encode(Version, SubmittedAt, Id);

    /// <summary>Reads a token the list handed out; anything else is refused.</summary>
    public static bool TryParse(string text, out ListCursor cursor)
    {
        var read = InstantIdKey.TryDecode(text, Version, out var at, out var id);
        cursor = read ? new ListCursor(at, id) : default;
        return read;
    }
}
