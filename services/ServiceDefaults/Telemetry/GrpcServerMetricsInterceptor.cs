using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Brokering.ServiceDefaults.Telemetry;

/// <summary>
/// Records every served call in <see cref="GrpcCallMetrics"/>. Registered before the error interceptor, so it
/// sees the status the caller receives (an unexpected exception already translated to INTERNAL).
/// </summary>
internal sealed class GrpcServerMetricsInterceptor(GrpcCallMetrics metrics) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        MeasureAsync(context, () => continuation(request, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        MeasureAsync(context, () => continuation(requestStream, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        MeasureAsync(context, async () =>
        {
            await continuation(request, responseStream, context);
            return true;
        });

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        MeasureAsync(context, async () =>
        {
            await continuation(requestStream, responseStream, context);
            return true;
        });

    // One measurement per call, whatever its kind: the status it ended with, or the one its exception becomes.
    private async Task<T> MeasureAsync<T>(ServerCallContext context, Func<Task<T>> call)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await call();
            metrics.Served(context.Method, context.Status.StatusCode, Stopwatch.GetElapsedTime(started));
            return result;
        }
        catch (Exception exception)
        {
            metrics.Served(context.Method, StatusOf(exception), Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    // gRPC for .NET answers any exception that is not an RpcException with UNKNOWN.
    private static StatusCode StatusOf(Exception exception) =>
        exception is RpcException rpc ? rpc.StatusCode : StatusCode.Unknown;
}
