using Grpc.Core;

namespace Brokering.Ordering.Buyers;

/// <summary>
/// Who the calling buyer is. Until token authentication lands (security issue), the buyer names
/// itself in the <c>X-Buyer-Id</c> header (gRPC: <c>x-buyer-id</c> metadata); every read and action
/// is scoped to it, so the tenancy rules are already in force.
/// </summary>
public static class BuyerIdentity
{
    public const string Header = "X-Buyer-Id";

    public static string? Of(HttpContext http) =>
        http.Request.Headers.TryGetValue(Header, out var value) && IsValid(value.ToString()) ? value.ToString() : null;

    public static string Of(ServerCallContext call) =>
        call.RequestHeaders.GetValue(Header.ToLowerInvariant()) is { } value && IsValid(value)
            ? value
            : throw new RpcException(new Status(StatusCode.Unauthenticated, $"The {Header} metadata entry is required."));

    private static bool IsValid(string value) =>
        value.Length is > 0 and <= 100 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
