using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

// Not Brokering.Ordering.Console: that namespace would hide System.Console from all of Brokering.Ordering.*.
namespace Brokering.Ordering.OpsConsole;

/// <summary>
/// The ops console at <c>/ops</c>: a static page and script (<c>wwwroot/ops</c>) that read the ops API.
/// Client-side routes (<c>/ops/sagas/{id}</c> …) all get the page.
/// </summary>
/// <remarks>
/// The page and its script hold no data: every byte of it comes from <c>/v1/ops</c>, which requires the
/// ops role, and the review desk's <c>/v1/review-desk</c> (ops or compliance officers; rulings officers only), with the
/// operator's bearer token sent by the script. A browser cannot put a bearer token on
/// a page navigation, so the shell is anonymous. The files are served by endpoints rather than the
/// static-files middleware, so that when the console gains a cookie sign-in, one
/// <c>RequireAuthorization(BrokeringRoles.Ops)</c> on this group (instead of <c>AllowAnonymous</c>)
/// guards every file of it.
/// </remarks>
public static class ConsoleEndpoints
{
    public const string Root = "ops";

    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    // The page runs only its own script and talks only to its own origin.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    public static IEndpointRouteBuilder MapOpsConsole(this IEndpointRouteBuilder app)
    {
        var console = app.MapGroup("/ops").WithTags("Ops console").ExcludeFromDescription().AllowAnonymous();
        console.MapGet("/", Page);
        console.MapGet("/assets/{**path}", Asset);
        console.MapGet("/{**route}", Page);
        return app;
    }

    private static IResult Page(HttpContext http, IWebHostEnvironment environment) =>
        Serve(http, environment.WebRootFileProvider.GetFileInfo($"{Root}/index.html"));

    private static IResult Asset(string path, HttpContext http, IWebHostEnvironment environment) =>
        path.Contains("..", StringComparison.Ordinal)
            ? TypedResults.NotFound()
            : Serve(http, environment.WebRootFileProvider.GetFileInfo($"{Root}/assets/{path}"));

    private static IResult Serve(HttpContext http, IFileInfo file)
    {
        if (!file.Exists || file.IsDirectory)
        {
            return TypedResults.NotFound();
        }

        var headers = http.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        if (!ContentTypes.TryGetContentType(file.Name, out var contentType))
        {
            contentType = "application/octet-stream";
        }

        var tag = new EntityTagHeaderValue($"\"{file.LastModified.UtcTicks:x}-{file.Length:x}\"");
        return TypedResults.Stream(file.CreateReadStream(), contentType, lastModified: file.LastModified, entityTag: tag);
    }
}
