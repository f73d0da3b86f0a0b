using System.Net;
using System.Text.Json.Serialization;

namespace Brokering.Client;

/// <summary>An RFC 9457 <c>application/problem+json</c> answer, as the services send for every refusal.</summary>
/// <param name="Type">A URI naming the kind of problem.</param>
/// <param name="Title">A short summary of the kind of problem.</param>
/// <param name="Status">The HTTP status.</param>
/// <param name="Detail">What went wrong with this request.</param>
/// <param name="Errors">For invalid input: each bad field's path in the request (<c>lines[0].quantity</c>) and what is wrong with it.</param>
public sealed record Problem(
    string? Type,
    string? Title,
    int? Status,
    string? Detail,
    [property: JsonPropertyName("errors")] IReadOnlyDictionary<string, string[]>? Errors);

/// <summary>The service refused a request: its status and, when it sent one, its problem document.</summary>
public sealed class BrokeringApiException : Exception
{
    /// <summary>Creates the exception for a refusal.</summary>
    /// <param name="statusCode">The HTTP status the service answered.</param>
    /// <param name="problem">The problem document, when the answer carried one.</param>
    /// <param name="body">The raw answer, when it was not a problem document.</param>
    public BrokeringApiException(HttpStatusCode statusCode, Problem? problem, string? body)
        : base(MessageOf(statusCode, problem, body))
    {
        StatusCode = statusCode;
        Problem = problem;
    }

    /// <summary>The HTTP status the service answered.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>The problem document, when the answer carried one.</summary>
    public Problem? Problem { get; }

    /// <summary>Each bad field's path and messages (empty unless the request was invalid input).</summary>
    public IReadOnlyDictionary<string, string[]> Errors => Problem?.Errors ?? new Dictionary<string, string[]>();

    private static string MessageOf(HttpStatusCode status, Problem? problem, string? body)
    {
        var head = $"{(int)status} {problem?.Title ?? status.ToString()}";
        if (problem?.Detail is { } detail)
        {
            head += $": {detail}";
        }

        if (problem?.Errors is { Count: > 0 } errors)
        {
            head += " (" + string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")) + ")";
        }
        else if (problem is null && !string.IsNullOrWhiteSpace(body))
        {
            head += $": {(body.Length > 500 ? body[..500] : body)}";
        }

        return head;
    }
}
