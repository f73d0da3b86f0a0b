using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// Turns exceptions into problem+json without leaking stack traces. Malformed request bodies
/// (which ASP.NET Core reports as <see cref="BadHttpRequestException"/>) are the caller's fault: 400, not 500, with the
/// field at fault by its path (<see cref="RequestBindingErrors"/>).
/// </summary>
internal sealed partial class UnhandledExceptionHandler(IProblemDetailsService problems, ILogger<UnhandledExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, "The request could not be read.", bad.Message),
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested => (499, "The client closed the request.", exception.Message),
            _ when UnstorableText.Is(exception) => (StatusCodes.Status400BadRequest, UnstorableText.Title, UnstorableText.Detail),
            _ => (StatusCodes.Status500InternalServerError, "An unexpected error occurred.", (string?)null),
        };
        if (status >= 500)
        {
            logger.LogError(exception, "Unhandled exception on {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
        }

        httpContext.Response.StatusCode = status;
        ProblemDetails problem = exception is BadHttpRequestException unbound && RequestBindingErrors.Of(unbound) is { } errors
            ? new HttpValidationProblemDetails(errors) { Detail = "The request is not valid: errors names each field at fault by its path." }
            : new ProblemDetails { Detail = detail };
        problem.Status = status;
        problem.Title = title;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, Exception = exception, ProblemDetails = problem });
    }
}
