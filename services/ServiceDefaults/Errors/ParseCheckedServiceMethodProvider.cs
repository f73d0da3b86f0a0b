using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// Binds gRPC services as Grpc.AspNetCore's own binder does (the generated <c>BindService</c>, metadata
/// from the service type and method), except that each request message is parsed by a marshaller that
/// turns a protobuf the caller got wrong into INVALID_ARGUMENT with the parser's reason. Grpc.AspNetCore
/// parses a request before any interceptor runs and answers a parse failure with UNKNOWN ("Exception was
/// thrown by handler.") and an error in the log: the caller learns nothing and the service looks at fault. A parsed
/// request's timestamps are checked here too (<see cref="RequestTimestamps"/>).
/// </summary>
internal sealed class ParseCheckedServiceMethodProvider<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.All)] TService>
    : IServiceMethodProvider<TService>
    where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        for (var type = typeof(TService); type is not null; type = type.BaseType)
        {
            if (type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is not { } bind)
            {
                continue;
            }

            var method = bind.BindType.GetMethods(BindingFlags.Public | BindingFlags.Static)
                .Single(m => m.Name == bind.BindMethodName && m.GetParameters() is [{ ParameterType: var first }, _] && first == typeof(ServiceBinderBase));
            method.Invoke(null, [new Binder(context, method.GetParameters()[1].ParameterType), null]);
            return;
        }
    }

    /// <summary>The request marshaller of <paramref name="method"/>, refusing unparseable bytes as the caller's error.</summary>
    internal static Method<TRequest, TResponse> ParseChecked<TRequest, TResponse>(Method<TRequest, TResponse> method)
    {
        var parse = method.RequestMarshaller.ContextualDeserializer;
        var marshaller = new Marshaller<TRequest>(method.RequestMarshaller.ContextualSerializer, context =>
        {
            TRequest request;
            try
            {
                request = parse(context);
            }
            catch (InvalidProtocolBufferException invalid)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"The request is not a valid {typeof(TRequest).Name}: {invalid.Message}"));
            }

            RequestTimestamps.Check(request);
            return request;
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, marshaller, method.ResponseMarshaller);
    }

    private sealed class Binder(ServiceMethodProviderContext<TService> context, Type declaringType) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<UnaryServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(ServerCallContext));
            context.AddUnaryMethod(ParseChecked(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<ClientStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext));
            context.AddClientStreamingMethod(ParseChecked(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<ServerStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            context.AddServerStreamingMethod(ParseChecked(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            context.AddDuplexStreamingMethod(ParseChecked(method), metadata, invoker);
        }

        // As Grpc.AspNetCore does: the override of the generated base method, attributes of the type then of
        // the method (so [Authorize] and [AllowAnonymous] keep working), and POST with CORS preflight.
        private (TDelegate Invoker, List<object> Metadata) Model<TDelegate>(string name, params Type[] parameters)
            where TDelegate : Delegate
        {
            var handler = Handler(name, parameters) ?? throw new InvalidOperationException($"Could not find '{name}' on {typeof(TService)}.");
            List<object> metadata = [.. typeof(TService).GetCustomAttributes(inherit: true), .. handler.GetCustomAttributes(inherit: true)];
            metadata.Add(new HttpMethodMetadata(["POST"], acceptCorsPreflight: true));
            metadata.Add(GrpcBodySize.Instance);
            return ((TDelegate)Delegate.CreateDelegate(typeof(TDelegate), handler), metadata);
        }

        private MethodInfo? Handler(string name, Type[] parameters)
        {
            for (var type = typeof(TService); type is not null; type = type.BaseType)
            {
                var candidate = type.GetMethod(name, BindingFlags.Public | BindingFlags.Instance, binder: null, types: parameters, modifiers: null);
                if (candidate is null)
                {
                    return null;
                }

                // A method of the same name that hides rather than overrides the generated one is not the handler.
                if (candidate.IsVirtual && candidate.GetBaseDefinition().DeclaringType == declaringType)
                {
                    return candidate;
                }
            }

            return null;
        }
    }
}

/// <summary>
/// No server-wide body limit on gRPC methods: gRPC limits each message itself (RESOURCE_EXHAUSTED, see
/// <c>MaxReceiveMessageSize</c>) and a single-message call refuses any data after its message. Kestrel's limit
/// would instead fail the read of a body declared larger with an exception gRPC can only report as UNKNOWN.
/// </summary>
internal sealed class GrpcBodySize : IRequestSizeLimitMetadata
{
    public static readonly GrpcBodySize Instance = new();

    public long? MaxRequestBodySize => null;
}
