using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>Every problem+json response carries the trace id, so a caller's report leads straight to the logs.</summary>
internal static class ProblemDetailsDefaults
{
    public static void Configure(ProblemDetailsOptions options) =>
        options.CustomizeProblemDetails = context =>
        {
            var traceId = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
            context.ProblemDetails.Extensions["traceId"] = traceId;
            context.ProblemDetails.Instance ??= context.HttpContext.Request.Path;
        };
}
