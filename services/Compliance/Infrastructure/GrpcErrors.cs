using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace Brokering.Compliance.Infrastructure;

/// <summary>gRPC errors with a rich status detail (google.rpc.Status): the field at fault, or the resource not found.</summary>
internal static class GrpcErrors
{
    public static RpcException InvalidArgument(string field, string description) =>
        new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = description,
            Details =
            {
                Any.Pack(new BadRequest
                {
                    FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = description } },
                }),
            },
        }.ToRpcException();

    public static RpcException NotFound(string resourceType, string resourceName, string description) =>
        new Google.Rpc.Status
        {
            Code = (int)Code.NotFound,
            Message = description,
            Details =
            {
                Any.Pack(new ResourceInfo { ResourceType = resourceType, ResourceName = resourceName, Description = description }),
            },
        }.ToRpcException();
}
