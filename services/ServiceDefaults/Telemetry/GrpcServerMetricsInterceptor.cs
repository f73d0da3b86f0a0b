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
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await continuation(request, context);
            metrics.Served(context.Method, context.Status.StatusCode, Stopwatch.GetElapsedTime(started));
            return response;
        }
        catch (Exception exception)
        {
            metrics.Served(context.Method, StatusOf(exception), Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await continuation(requestStream, context);
            metrics.Served(context.Method, context.Status.StatusCode, Stopwatch.GetElapsedTime(started));
            return response;
        }
        catch (Exception exception)
        {
            metrics.Served(context.Method, StatusOf(exception), Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await continuation(request, responseStream, context);
            metrics.Served(context.Method, context.Status.StatusCode, Stopwatch.GetElapsedTime(started));
        }
        catch (Exception exception)
        {
            metrics.Served(context.Method, StatusOf(exception), Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await continuation(requestStream, responseStream, context);
            metrics.Served(context.Method, context.Status.StatusCode, Stopwatch.GetElapsedTime(started));
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
