using Brokering.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// A query string is checked before any endpoint reads it, one rule for every endpoint, those written after it too:
/// <list type="bullet">
/// <item>A parameter holding a control character is refused under its name. No filter of these APIs means one (a buyer
/// reference, a SKU, a buyer id, a status), and a NUL is a character PostgreSQL text cannot hold: a filter passed on to a
/// query with one failed the query, a 500 for the caller's typo.</item>
/// <item>A parameter the endpoint does not read is refused under its name, as a body's unknown field is. A typo'd filter
/// (<c>?stauts=Held</c>) was ignored, and the caller got every reservation for the few it asked for, an answer that looks
/// right; an operator acting on that list acts on the wrong ones. What an endpoint reads is what its OpenAPI
/// description declares (the same API explorer), so the guard and the published contract cannot disagree.</item>
/// <item>A parameter that takes one value, given more than once, is refused under its name, as a body's field given
/// twice is: the framework joined the values with a comma, so <c>?buyerReference=a&amp;buyerReference=b</c> filtered on
/// "a,b", a reference neither value names, and a proxy that reads the first value would approve another request than
/// the one served. A parameter that takes a list (<c>status</c>) may repeat.</item>
/// </list>
/// </summary>
public static class QueryStringGuard
{
    public static IApplicationBuilder UseQueryStringGuard(this IApplicationBuilder app)
    {
        // Endpoints are mapped after the middleware is added: what each one reads is collected at the first request.
        var declared = new Lazy<DeclaredQueryParameters>(
            () => new DeclaredQueryParameters(app.ApplicationServices.GetRequiredService<IApiDescriptionGroupCollectionProvider>()));
        return app.Use(async (context, next) =>
        {
            if (context.Request.QueryString.HasValue && Refusals(context.Request.Query, context.GetEndpoint(), declared.Value) is var (errors, detail))
            {
                await Results.ValidationProblem(errors, detail: detail).ExecuteAsync(context);
                return;
            }

            await next(context);
        });
    }

    private static (Dictionary<string, string[]> Errors, string Detail)? Refusals(IQueryCollection query, Endpoint? endpoint, DeclaredQueryParameters declared)
    {
        Dictionary<string, string[]>? errors = null;
        foreach (var (name, values) in query)
        {
            if (!InputBounds.IsPlainText(name) || values.Any(value => value is not null && !InputBounds.IsPlainText(value)))
            {
                // The name is echoed only when it is itself readable.
                (errors ??= new(StringComparer.Ordinal))[InputBounds.IsPlainText(name) ? KeyOf(name) : RequestBindingErrors.Root] = ["No control characters."];
            }
        }

        if (errors is not null)
        {
            return (errors, "A query parameter holds a control character.");
        }

        if (declared.Of(endpoint) is not { } reads)
        {
            return null;
        }

        foreach (var (name, values) in query)
        {
            if (!reads.TryGetValue(name, out var takesList))
            {
                (errors ??= new(StringComparer.Ordinal))[KeyOf(name)] = [reads.Count == 0
                    ? "Not a parameter of this request: it takes none."
                    : $"Not a parameter of this request: it takes {string.Join(", ", reads.Keys.Order(StringComparer.Ordinal))}."];
            }
            else if (!takesList && values.Count > 1)
            {
                (errors ??= new(StringComparer.Ordinal))[name] = [$"Given {values.Count} times; it takes one value."];
            }
        }

        return errors is null ? null : (errors, "A query parameter is not one this request reads, or is given more often than it is read.");
    }

    // A parameter without a name (?=5) is reported under the request's root, as every other nameless error is.
    private static string KeyOf(string name) => name.Length == 0 ? RequestBindingErrors.Root : name;

    /// <summary>
    /// The query parameters each described endpoint binds, and which of them take a list, by the endpoint's display name
    /// (method, route, handler), as the API explorer reads them for the OpenAPI document. Names compare without case, as
    /// binding does. An endpoint the explorer does not describe (the console's pages, health, gRPC) is not checked.
    /// </summary>
    private sealed class DeclaredQueryParameters
    {
        // Each endpoint's parameters, each with whether it takes a list of values.
        private readonly Dictionary<string, Dictionary<string, bool>> byEndpoint = new(StringComparer.Ordinal);

        public DeclaredQueryParameters(IApiDescriptionGroupCollectionProvider explorer)
        {
            foreach (var description in explorer.ApiDescriptionGroups.Items.SelectMany(group => group.Items))
            {
                if (description.ActionDescriptor.DisplayName is not { } name)
                {
                    continue;
                }

                // One handler described twice (one per method it answers) reads the same parameters in each.
                if (!byEndpoint.TryGetValue(name, out var reads))
                {
                    byEndpoint[name] = reads = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
                }

                foreach (var parameter in description.ParameterDescriptions)
                {
                    if (parameter.Source == BindingSource.Query)
                    {
                        reads[parameter.Name] = TakesList(parameter.Type);
                    }
                }
            }
        }

        public Dictionary<string, bool>? Of(Endpoint? endpoint) =>
            endpoint?.DisplayName is { } name && byEndpoint.TryGetValue(name, out var reads) ? reads : null;

        // A string is one value; an array or other collection of them (string[], StringValues) binds every value given.
        private static bool TakesList(Type? type) =>
            type is not null && type != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(type);
    }
}
