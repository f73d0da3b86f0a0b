using System.Text;
using Brokering.ServiceDefaults.Errors;
using Microsoft.Net.Http.Headers;

namespace Brokering.Ordering.Reservations.Bulk;

/// <summary>
/// A CSV body as text, in the charset it says it is in. A spreadsheet saved as CSV is often not UTF-8 (Excel on Windows
/// writes Windows-1252): read as UTF-8 regardless, every accented letter became U+FFFD, so "Société Générale" was stored,
/// and screened, as "Soci�t� G�n�rale". So the charset parameter is honoured (UTF-8 when there is none; a byte order mark
/// wins, as it does in every reader), and bytes that are not text in that charset refuse the body instead of being
/// replaced.
/// </summary>
internal static class BulkCsvText
{
    public static async Task<(string? Text, string? Refusal)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var charset = MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) ? ContentTypeCharset.Of(mediaType) : null;
        var encoding = charset is null ? new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true) : ContentTypeCharset.Strict(charset);
        if (encoding is null)
        {
            return (null, $"Unknown charset '{charset}': send UTF-8, or name the charset the file is in (text/csv; charset=windows-1252).");
        }

        // Read whole first (bounded by the server's request size limit): the CSV reader reads synchronously.
        using var body = new StreamReader(request.Body, encoding, detectEncodingFromByteOrderMarks: true);
        try
        {
            return (await body.ReadToEndAsync(cancellationToken), null);
        }
        catch (DecoderFallbackException)
        {
            return (null, charset is null
                ? "Not UTF-8 text: send the file as UTF-8, or name the charset it is in (text/csv; charset=windows-1252)."
                : $"Not {charset} text: name the charset the file is in (text/csv; charset=…), or send it as UTF-8.");
        }
    }
}
