using System.Text.Json.Serialization;
using Brokering.ServiceDefaults.Errors;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Brokering.ServiceDefaults.Security;
using Brokering.ServiceDefaults.Telemetry;

namespace Brokering.ServiceDefaults;

/// <summary>What every Brokering service has: logs, telemetry, health, problem+json, gRPC plumbing.</summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Tag of the health checks that gate readiness (database, broker).</summary>
    public const string ReadyTag = "ready";

    /// <summary>The one OpenAPI document each service serves, at <c>/openapi/v1.json</c>.</summary>
    public const string OpenApiDocument = "v1";

    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder)
    {
        builder.AddStructuredLogging();
        builder.AddTelemetry();
        builder.AddServiceSecurity();

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<GrpcCallMetrics>();
        builder.Services.AddProblemDetails(ProblemDetailsDefaults.Configure);
        builder.Services.AddExceptionHandler<UnhandledExceptionHandler>();
        builder.Services.AddOpenApi(OpenApiDocument);
        // The 401, 403 and 429 every endpoint can answer before its handler runs, from its own metadata.
        RefusalAnswers.Register(builder.Services);

        // Strict JSON: a field the API does not know is an error (a typo must not silently drop a
        // price ceiling), and numbers must be numbers.
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            // A field given twice is refused rather than the last one winning: a proxy or signature check that reads
            // the first would otherwise approve a body the service reads differently.
            options.SerializerOptions.AllowDuplicateProperties = false;
            options.SerializerOptions.Converters.Add(new InstantJsonConverter());
        });
        // A body or parameter the framework cannot bind is thrown to the exception handler in every environment (the
        // default does so only in Development, and elsewhere answers a bare 400), so each caller learns which field.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddHealthChecks();

        builder.Services.AddGrpc(options =>
        {
            // Stock feeds stream thousands of items, but no single message needs more than this.
            options.MaxReceiveMessageSize = 4 * 1024 * 1024;
            options.EnableDetailedErrors = false;
            // No catch-all route for unknown gRPC services and methods: it matched every two-segment POST, so a REST
            // request the REST endpoint declines (a body that is not JSON) got a bare 404 instead of its 415. An unknown
            // gRPC method still ends as UNIMPLEMENTED at the client (HTTP 404 from the pipeline).
            options.IgnoreUnknownServices = true;
            // Metrics first: the outer interceptor sees the status the caller gets, after the error translation.
            options.Interceptors.Add<GrpcServerMetricsInterceptor>();
            options.Interceptors.Add<GrpcErrorInterceptor>();
        });
        builder.Services.AddGrpcHealthChecks();
        builder.Services.AddGrpcReflection();
        builder.Services.ReplaceGrpcBinderWithParseChecked();

        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = 4 * 1024 * 1024);
        return builder;
    }

    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseServiceSecurity();
        app.UseQueryStringGuard();
        app.UseJsonBodyCharset();

        // Liveness says the process answers; readiness says it can do work (database and broker reachable).
        // Health and metrics stay anonymous (probes and scrapers carry no tokens); everything else needs one.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = HealthReportWriter.WriteAsync,
        }).AllowAnonymous();
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
        // The OpenAPI endpoint answers an unknown document name with a plain-text 404; every error here is problem+json.
        app.MapOpenApi().AddEndpointFilter(async (context, next) =>
        {
            if (string.Equals(context.HttpContext.GetRouteValue("documentName") as string, OpenApiDocument, StringComparison.OrdinalIgnoreCase))
            {
                return await next(context);
            }

            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound, title: "No such OpenAPI document.", detail: $"This service describes its API at /openapi/{OpenApiDocument}.json.");
        });
        app.MapGrpcHealthChecksService().AllowAnonymous();
        app.MapGrpcReflectionService();
        return app;
    }

    // After every AddGrpc* call: each one would add Grpc.AspNetCore's binder back, and two binders map every method twice.
    private static void ReplaceGrpcBinderWithParseChecked(this IServiceCollection services)
    {
        var binder = services.SingleOrDefault(descriptor => descriptor.ServiceType == typeof(IServiceMethodProvider<>)
                && descriptor.ImplementationType?.Name == "BinderServiceMethodProvider`1")
            ?? throw new InvalidOperationException("Grpc.AspNetCore's service binder is not registered as expected; the parse-checked binder cannot replace it.");
        services.Remove(binder);
        services.AddSingleton(typeof(IServiceMethodProvider<>), typeof(ParseCheckedServiceMethodProvider<>));
    }

    private static void AddStructuredLogging(this WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.Configure(options =>
            options.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        builder.Logging.AddJsonConsole(options =>
        {
            options.IncludeScopes = true;
            options.UseUtcTimestamp = true;
            options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        // The health service logs every unhealthy answer as an Error: every readiness probe of a starting service (the
        // bus not started, the catalogue not copied yet) was one. The prober gets the answer, each check named in it
        // (/health/ready); what made a check fail is logged by the component that failed.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService", LogLevel.Critical);
    }

    /// <summary>
    /// Spans go to an OpenTelemetry collector when the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> names one
    /// (protocol, headers and batching from the other <c>OTEL_*</c> variables). Without it tracing is not registered
    /// at all: no listener, so MassTransit, Npgsql, HTTP and gRPC create no spans nobody would read (a few hundred
    /// per reservation). ASP.NET Core still starts an activity per request (from the caller's <c>traceparent</c>,
    /// if any), so logs and problem details keep their trace id, and calls made while serving a request carry it on.
    /// Metrics stay on the Prometheus scrape either way, logs on standard output.
    /// </summary>
    private static void AddTelemetry(this WebApplicationBuilder builder)
    {
        var serviceName = builder.Environment.ApplicationName;
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName));
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource("MassTransit", "Brokering.*")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddGrpcClientInstrumentation()
                .AddNpgsql()
                .AddOtlpExporter());
        }

        telemetry
            .WithMetrics(metrics => metrics
                .AddMeter("MassTransit", "Brokering.*")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
    }
}
