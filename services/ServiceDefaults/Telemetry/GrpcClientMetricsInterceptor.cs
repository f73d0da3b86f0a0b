using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Brokering.ServiceDefaults.Telemetry;

/// <summary>
/// Records each unary call attempt to another Brokering service in <see cref="GrpcCallMetrics"/>. The services
/// call each other with unary calls only; streaming calls (stock feeds) come from outside and are measured by the
/// serving side.
/// </summary>
internal sealed class GrpcClientMetricsInterceptor(GrpcCallMetrics metrics) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        var call = continuation(request, context);
        return new AsyncUnaryCall<TResponse>(
            Measure(call.ResponseAsync, context.Method.ServiceName, context.Method.Name, started),
            call.ResponseHeadersAsync,
            call.GetStatus,
            call.GetTrailers,
            call.Dispose);
    }

    private async Task<TResponse> Measure<TResponse>(Task<TResponse> response, string service, string method, long started)
    {
        try
        {
            var result = await response.ConfigureAwait(false);
            metrics.Called(service, method, StatusCode.OK, Stopwatch.GetElapsedTime(started));
            return result;
        }
        catch (RpcException exception)
        {
            metrics.Called(service, method, exception.StatusCode, Stopwatch.GetElapsedTime(started));
            throw;
        }
    }
}
