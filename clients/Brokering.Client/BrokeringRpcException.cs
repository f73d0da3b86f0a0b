using System.Text.RegularExpressions;
using Grpc.Core;

namespace Brokering.Client;

/// <summary>
/// The service refused a gRPC call (<see cref="BuyerGrpcClient"/>): its status, its detail and, for invalid input,
/// each bad field by its path. The gRPC counterpart of <see cref="BrokeringApiException"/>.
/// </summary>
public sealed partial class BrokeringRpcException : Exception
{
    /// <summary>Creates the exception for a refusal.</summary>
    /// <param name="refusal">The call's failure, as gRPC reported it.</param>
    public BrokeringRpcException(RpcException refusal)
        : base(MessageOf(refusal), refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        StatusCode = refusal.StatusCode;
        Detail = refusal.Status.Detail;
        Errors = refusal.StatusCode == StatusCode.InvalidArgument ? FieldsOf(Detail) : new Dictionary<string, string[]>();
    }

    /// <summary>The gRPC status the call ended with (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, …).</summary>
    public StatusCode StatusCode { get; }

    /// <summary>The status detail: what went wrong with this call, in the service's words.</summary>
    public string Detail { get; }

    /// <summary>
    /// For INVALID_ARGUMENT: each bad field the detail names, by its path in the request as the service spells it
    /// (<c>lines[0].quantity</c>, <c>endUser.name</c>, <c>min_fill_ratio.nanos</c>), with what is wrong with it.
    /// Empty for any other status, or when the detail names no field.
    /// </summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>
    /// The service words an invalid argument as <c>path: what is wrong.</c>, one field after another, each message
    /// ending with a full stop; a path therefore starts the detail or follows ". ".
    /// </summary>
    [GeneratedRegex(@"(?:^|(?<=\.\s))(?<path>[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?)*):\s")]
    private static partial Regex FieldPath();

    private static Dictionary<string, string[]> FieldsOf(string detail)
    {
        var fields = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var matches = FieldPath().Matches(detail);
        for (var i = 0; i < matches.Count; i++)
        {
            var start = matches[i].Index + matches[i].Length;
            var end = i + 1 < matches.Count ? matches[i + 1].Index : detail.Length;
            var message = detail[start..end].Trim();
            var path = matches[i].Groups["path"].Value;
            fields[path] = fields.TryGetValue(path, out var earlier) ? [.. earlier, message] : [message];
        }

        return fields;
    }

    private static string MessageOf(RpcException refusal) =>
        string.IsNullOrEmpty(refusal.Status.Detail) ? refusal.StatusCode.ToString() : $"{refusal.StatusCode}: {refusal.Status.Detail}";
}
