using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// A JSON body is read in the charset its Content-Type names, as the framework does; three labels the framework answered
/// with a 500 are handled before it: a charset no encoding has (<c>charset=bogus</c>) is the caller's 400 under the
/// body's root; a quoted one (<c>charset="utf-8"</c>, as HTTP allows any parameter to be written) is read unquoted, where
/// the framework took the quotes for part of the name; and the Windows code pages a client on Windows may label its text
/// with (<c>windows-1252</c>) are known, as they are to the bulk CSV reader (<see cref="ContentTypeCharset"/>). Without a
/// charset a JSON body is UTF-8.
/// </summary>
public static class JsonBodyCharset
{
    public static IApplicationBuilder UseJsonBodyCharset(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var contentType = context.Request.ContentType;
        if (contentType is not null && contentType.Contains("charset", StringComparison.OrdinalIgnoreCase)
            && MediaTypeHeaderValue.TryParse(contentType, out var mediaType) && IsJson(mediaType) && ContentTypeCharset.Of(mediaType) is { } charset)
        {
            if (ContentTypeCharset.Strict(charset) is null)
            {
                await Results.ValidationProblem(
                    new Dictionary<string, string[]> { [RequestBindingErrors.Root] = [ContentTypeCharset.UnknownForJson(charset)] },
                    detail: "The body's charset is not one this service can read.").ExecuteAsync(context);
                return;
            }

            if (!string.Equals(charset, mediaType.Charset.Value, StringComparison.Ordinal))
            {
                mediaType.Charset = charset;
                context.Request.ContentType = mediaType.ToString();
            }
        }

        await next(context);
    });

    private static bool IsJson(MediaTypeHeaderValue mediaType) =>
        mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
        || (mediaType.Type.Equals("application", StringComparison.OrdinalIgnoreCase) && mediaType.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
}
