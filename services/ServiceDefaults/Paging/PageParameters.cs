using System.Globalization;

namespace Brokering.ServiceDefaults.Paging;

/// <summary>
/// The query parameters every paged list reads the same way: a page size and an instant. Each list names its own
/// fields and wording of the error; what counts as valid is decided here once.
/// </summary>
public static class PageParameters
{
    /// <summary>A page size: absent gives <paramref name="fallback"/>; otherwise a whole number from 1 to <paramref name="max"/>.</summary>
    public static bool TryReadLimit(string? text, int fallback, int max, out int limit)
    {
        limit = fallback;
        return text is null
            || (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 && limit <= max);
    }

    /// <summary>An ISO 8601 instant, taken as UTC when it names no offset; absent or empty gives null.</summary>
    public static bool TryReadInstant(string? text, out DateTimeOffset? instant)
    {
        instant = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return false;
        }

        instant = parsed;
        return true;
    }
}
