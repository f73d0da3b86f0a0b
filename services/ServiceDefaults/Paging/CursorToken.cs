using System.Buffers.Text;

namespace Brokering.ServiceDefaults.Paging;

/// <summary>
/// The opaque form of a cursor handed to tenants (buyers' reservation lists and change feed, distributors' holds and
/// orders): a version byte, then the cursor's fixed-length key, in base64url. The layout behind it is ours to change
/// (the version says which one a token is); anything not made here is refused.
/// </summary>
public static class CursorToken
{
    /// <summary>The token for <paramref name="key"/> under layout <paramref name="version"/>.</summary>
    public static string Encode(byte version, ReadOnlySpan<byte> key)
    {
        Span<byte> bytes = stackalloc byte[key.Length + 1];
        bytes[0] = version;
        key.CopyTo(bytes[1..]);
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>
    /// Reads a token of layout <paramref name="version"/> into <paramref name="key"/>, which it must fill exactly: false for
    /// anything else (too long, not base64url, another length or version).
    /// </summary>
    public static bool TryDecode(string text, byte version, Span<byte> key)
    {
        // A token is a version byte and the key; three bytes of room catch a longer one instead of cutting it short.
        Span<byte> bytes = stackalloc byte[key.Length + 4];
        int written;
        try
        {
            if (text.Length > Base64Url.GetEncodedLength(key.Length + 1) || !Base64Url.TryDecodeFromChars(text, bytes, out written))
            {
                return false;
            }
        }
        catch (FormatException)
        {
            return false;
        }

        if (written != key.Length + 1 || bytes[0] != version)
        {
            return false;
        }

        bytes.Slice(1, key.Length).CopyTo(key);
        return true;
    }
}
