using System.Text;
using Microsoft.Net.Http.Headers;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// The charset a request body's Content-Type names, and the encoding of that name: one lookup for every reader of a body
/// (JSON through <see cref="JsonBodyCharset"/>, the bulk CSV), so what one of them takes the others take too.
/// </summary>
public static class ContentTypeCharset
{
    // Windows code pages (windows-1252 and the like) come with the runtime but are registered only on request.
    static ContentTypeCharset() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>Why a JSON body labelled <paramref name="charset"/>, which no encoding has, is refused.</summary>
    public static string UnknownForJson(string charset) =>
        $"Unknown charset '{charset}' in Content-Type: send the JSON as UTF-8 (application/json; charset=utf-8).";

    /// <summary>The charset <paramref name="mediaType"/> names, without the quotes HTTP allows around it; null when it names none.</summary>
    public static string? Of(MediaTypeHeaderValue mediaType) => mediaType.Charset.HasValue ? mediaType.Charset.Value!.Trim().Trim('"') : null;

    /// <summary>The encoding named <paramref name="charset"/>, which throws on bytes that are not text in it; null when no encoding has the name.</summary>
    public static Encoding? Strict(string charset)
    {
        if (charset.Length == 0)
        {
            return null;
        }

        try
        {
            return Encoding.GetEncoding(charset, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
