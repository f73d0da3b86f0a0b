using System.Text;
using Brokering.ServiceDefaults.Errors;
using Microsoft.Net.Http.Headers;

namespace Brokering.Ordering.Reservations.Bulk;

/// <summary>
/// A bulk JSON body as UTF-8, in whatever charset its Content-Type names, as a single submission's body is read: the
/// parser reads UTF-8 only, so a body sent as <c>charset=utf-16</c> was "Not JSON" and one in windows-1252 had its
/// accented names refused. Bytes that are not text in the charset named throw <see cref="DecoderFallbackException"/> as
/// they are read, refusing the body as the bulk CSV's do, rather than reaching the parser as replacement characters.
/// </summary>
internal static class BulkJsonBody
{
    /// <summary>The body to parse and the charset it was named in (null: none, read as UTF-8), or why it cannot be read.</summary>
    public static (Stream? Utf8, string? Charset, string? Refusal) Open(HttpRequest request)
    {
        var charset = MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) ? ContentTypeCharset.Of(mediaType) : null;
        if (charset is null)
        {
            return (request.Body, null, null);
        }

        // JsonBodyCharset refuses an unknown charset before any endpoint runs; the same answer, should it ever not.
        if (ContentTypeCharset.Strict(charset) is not { } encoding)
        {
            return (null, charset, ContentTypeCharset.UnknownForJson(charset));
        }

        return (Encoding.CreateTranscodingStream(request.Body, encoding, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), leaveOpen: true), charset, null);
    }
}
