using Brokering.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// A query parameter holding a control character is refused under its name before any endpoint reads it. No filter of
/// these APIs means one (a buyer reference, a SKU, a buyer id, a status), and a NUL is a character PostgreSQL text
/// cannot hold: a filter passed on to a query with one failed the query, a 500 for the caller's typo. One rule here
/// covers every endpoint, those written after it too.
/// </summary>
public static class QueryStringGuard
{
    public static IApplicationBuilder UseQueryStringGuard(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Request.QueryString.HasValue && Refusals(context.Request.Query) is { } errors)
        {
            await Results.ValidationProblem(errors, detail: "A query parameter holds a control character.").ExecuteAsync(context);
            return;
        }

        await next(context);
    });

    private static Dictionary<string, string[]>? Refusals(IQueryCollection query)
    {
        Dictionary<string, string[]>? errors = null;
        foreach (var (name, values) in query)
        {
            if (!InputBounds.IsPlainText(name) || values.Any(value => value is not null && !InputBounds.IsPlainText(value)))
            {
                // The name is echoed only when it is itself readable.
                var key = InputBounds.IsPlainText(name) ? name : RequestBindingErrors.Root;
                (errors ??= new(StringComparer.Ordinal))[key] = ["No control characters."];
            }
        }

        return errors;
    }
}
