using Brokering.ServiceDefaults.Security;
using Brokering.ServiceDefaults.Telemetry;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Brokering.ServiceDefaults;

/// <summary>Typed gRPC clients to other Brokering services, each behind its own resilience pipeline.</summary>
public static class GrpcClientExtensions
{
    /// <summary>
    /// Registers gRPC client <typeparamref name="TClient"/> at <c>Services:{service}</c> and a Polly
    /// pipeline named <paramref name="service"/>: an overall timeout, retries with jitter on transient
    /// status codes only (never on INVALID_ARGUMENT or FAILED_PRECONDITION, which would repeat a refusal),
    /// and a circuit breaker so a down dependency is not hammered.
    /// </summary>
    public static WebApplicationBuilder AddServiceClient<TClient>(this WebApplicationBuilder builder, string service)
        where TClient : ClientBase
    {
        var address = builder.Configuration[$"Services:{service}"]
            ?? throw new InvalidOperationException($"Services:{service} is not configured.");
        var settings = builder.Services.Select(descriptor => descriptor.ImplementationInstance).OfType<TokenSettings>().FirstOrDefault()
            ?? throw new InvalidOperationException("AddServiceSecurity must come before AddServiceClient.");
        var issuer = settings.ServiceIssuer
            ?? throw new InvalidOperationException($"Authentication:ServiceKey (or ServiceKeyFile) is not configured: {settings.ServiceName} signs its calls to {service} with it.");
        var audience = TokenSettings.AudienceOf(builder.Configuration, service);
        builder.Services.AddGrpcClient<TClient>(options => options.Address = new Uri(address))
            .AddHttpMessageHandler(services => new ServiceTokenHandler(issuer, audience, services.GetRequiredService<TimeProvider>()))
            .AddInterceptor(services => new GrpcClientMetricsInterceptor(services.GetRequiredService<GrpcCallMetrics>()));
        builder.Services.AddResiliencePipeline(service, pipeline => pipeline
            .AddTimeout(TimeSpan.FromSeconds(15))
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RpcException>(IsTransient),
                MaxRetryAttempts = 3,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RpcException>(IsTransient),
                FailureRatio = 0.5,
                MinimumThroughput = 10,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(5),
            })
            .AddTimeout(new TimeoutStrategyOptions { Timeout = TimeSpan.FromSeconds(5) }));
        return builder;
    }

    /// <summary>Status codes worth retrying: the call may succeed if made again.</summary>
    public static bool IsTransient(RpcException exception) =>
        exception.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted or StatusCode.Aborted;
}
