using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Brokering.ServiceDefaults;

/// <summary>
/// Declares in every service's OpenAPI document the problem+json answers the pipeline gives before a handler runs, read
/// from each endpoint's own metadata, so an endpoint mapped tomorrow is described without anyone remembering to:
/// 401 unless it allows anonymous callers (every endpoint needs a token by the fallback policy), 403 when it asks for a
/// role or a policy beyond that, and 429 unless rate limiting is disabled for it (every caller has a budget, see
/// <see cref="Security.RateLimits"/>). And the answers of the binding before the handler: 400 when a JSON body cannot be
/// read or a parameter of the query, path or headers is not of its type, 415 when a JSON body comes as another media
/// type. A status an endpoint already declares is left as it is, except that a refusal it declares without a body (a
/// typed <c>NotFound</c>, say) is declared as problem+json: that is how the status code pages answer it.
/// </summary>
internal sealed class RefusalAnswers : IApiDescriptionProvider
{
    private const string ProblemJson = "application/problem+json";

    /// <summary>After the minimal-API provider (order -1100) has described the endpoints.</summary>
    public int Order => 1000;

    public static void Register(IServiceCollection services) =>
        services.TryAddEnumerable(ServiceDescriptor.Transient<IApiDescriptionProvider, RefusalAnswers>());

    public void OnProvidersExecuting(ApiDescriptionProviderContext context)
    {
        foreach (var description in context.Results)
        {
            var removed = new List<int>();
            foreach (var bodiless in description.SupportedResponseTypes
                .Where(response => response.StatusCode >= StatusCodes.Status400BadRequest && (response.Type is null || response.Type == typeof(void)))
                .ToList())
            {
                description.SupportedResponseTypes.Remove(bodiless);
                removed.Add(bodiless.StatusCode);
            }

            var metadata = description.ActionDescriptor.EndpointMetadata;
            if (!metadata.OfType<IAllowAnonymous>().Any())
            {
                Declare(description, StatusCodes.Status401Unauthorized);
                if (metadata.OfType<IAuthorizeData>().Any(data => !string.IsNullOrEmpty(data.Policy) || !string.IsNullOrEmpty(data.Roles))
                    || metadata.OfType<AuthorizationPolicy>().Any())
                {
                    Declare(description, StatusCodes.Status403Forbidden);
                }
            }

            if (!metadata.OfType<DisableRateLimitingAttribute>().Any())
            {
                Declare(description, StatusCodes.Status429TooManyRequests);
            }

            foreach (var status in removed)
            {
                Declare(description, status);
            }

            if (description.ParameterDescriptions.Any(parameter => parameter.Source == BindingSource.Body))
            {
                Declare(description, StatusCodes.Status400BadRequest);
                Declare(description, StatusCodes.Status415UnsupportedMediaType);
            }

            if (description.ParameterDescriptions.Any(parameter => parameter.Type is { } type && type != typeof(string)
                && (parameter.Source == BindingSource.Query || parameter.Source == BindingSource.Header
                    || (parameter.Source == BindingSource.Path && parameter.RouteInfo?.Constraints?.Any() != true))))
            {
                Declare(description, StatusCodes.Status400BadRequest);
            }
        }
    }

    public void OnProvidersExecuted(ApiDescriptionProviderContext context)
    {
    }

    private static void Declare(ApiDescription description, int status)
    {
        if (description.SupportedResponseTypes.Any(response => response.StatusCode == status))
        {
            return;
        }

        description.SupportedResponseTypes.Add(new ApiResponseType
        {
            StatusCode = status,
            Type = typeof(ProblemDetails),
            ApiResponseFormats = [new ApiResponseFormat { MediaType = ProblemJson }],
            IsDefaultResponse = false,
        });
    }
}
