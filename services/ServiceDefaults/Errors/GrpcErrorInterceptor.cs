using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// Maps argument errors to INVALID_ARGUMENT with their message and hides everything else
/// behind INTERNAL, so a gRPC caller always gets a status with a useful detail and never a stack trace.
/// </summary>
/// <remarks>
/// An answer ready after its caller stopped waiting (its deadline passed, or it went away) is not written: the framework
/// has ended the call at that moment, and writing to it then fails and is logged as an error of the method ("Writing is
/// not allowed after writer was completed"), a false alarm for every call a loaded service finishes late. The call ends
/// as what it is, DEADLINE_EXCEEDED or CANCELLED.
/// </remarks>
public sealed class GrpcErrorInterceptor(ILogger<GrpcErrorInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        TResponse response;
        try
        {
            response = await continuation(request, context);
        }
        catch (Exception exception) when (Translate(exception, context) is { } rpc)
        {
            throw rpc;
        }

        return context.CancellationToken.IsCancellationRequested ? throw Abandoned(context) : response;
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        TResponse response;
        try
        {
            response = await continuation(requestStream, context);
        }
        catch (Exception exception) when (Translate(exception, context) is { } rpc)
        {
            throw rpc;
        }

        return context.CancellationToken.IsCancellationRequested ? throw Abandoned(context) : response;
    }

    /// <summary>The status of a call whose caller stopped waiting: its deadline passed, or it cancelled or went away.</summary>
    private static RpcException Abandoned(ServerCallContext context) =>
        context.Deadline <= DateTime.UtcNow
            ? new RpcException(new Status(StatusCode.DeadlineExceeded, "The call's deadline passed before the answer was ready."))
            : new RpcException(new Status(StatusCode.Cancelled, "The call was cancelled."));

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception exception) when (Translate(exception, context) is { } rpc)
        {
            throw rpc;
        }
    }

    private RpcException? Translate(Exception exception, ServerCallContext context)
    {
        switch (exception)
        {
            case RpcException:
                return null;
            case ArgumentException argument:
                return new RpcException(new Status(StatusCode.InvalidArgument, argument.Message));
            case var _ when UnstorableText.Is(exception):
                return new RpcException(new Status(StatusCode.InvalidArgument, UnstorableText.Detail));
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                return Abandoned(context);
            default:
                logger.LogError(exception, "Unhandled exception in gRPC method {Method}", context.Method);
                return new RpcException(new Status(StatusCode.Internal, "An unexpected error occurred."));
        }
    }
}
