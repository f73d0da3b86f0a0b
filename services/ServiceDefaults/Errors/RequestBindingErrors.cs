using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// What is wrong with a request the framework could not bind (a JSON body it could not read, a parameter it could not
/// convert), as problem errors keyed by the field's path in the caller's terms (<c>lines[0].quantity</c>, <c>$</c> for
/// the body itself). The framework's own messages name .NET types and parameters ("Failed to read parameter
/// "SubmitReservationRequest request""), which tell a client nothing it can act on.
/// </summary>
public static partial class RequestBindingErrors
{
    /// <summary>The key of an error about the body as a whole.</summary>
    public const string Root = "$";

    /// <summary>The errors of a request the framework refused to bind, or null when the refusal is not about its input.</summary>
    public static Dictionary<string, string[]>? Of(BadHttpRequestException exception)
    {
        if (exception.InnerException is JsonException json)
        {
            return new(StringComparer.Ordinal) { [PathOf(json)] = [ReasonOf(json)] };
        }

        if (exception.StatusCode != StatusCodes.Status400BadRequest)
        {
            return null;
        }

        // The framework's wording, matched so a client gets the parameter's name instead (literal text, English only:
        // the services run with invariant globalization).
        if (BodyMissing().IsMatch(exception.Message))
        {
            return new(StringComparer.Ordinal) { [Root] = ["A JSON body is required."] };
        }

        if (ParameterMissing().Match(exception.Message) is { Success: true } missing)
        {
            return new(StringComparer.Ordinal) { [missing.Groups["name"].Value] = ["Required."] };
        }

        if (ParameterUnbound().Match(exception.Message) is { Success: true } unbound)
        {
            return new(StringComparer.Ordinal) { [unbound.Groups["name"].Value] = ["Not a valid value for this parameter."] };
        }

        return null;
    }

    /// <summary>Where in the body a JSON error is: <c>$.lines[0].quantity</c> read as <c>lines[0].quantity</c>.</summary>
    public static string PathOf(JsonException exception) => exception.Path switch
    {
        null or "$" or "" => Root,
        var path when path.StartsWith("$.", StringComparison.Ordinal) => path[2..],
        var path when path.StartsWith('$') => path[1..],
        var path => path,
    };

    /// <summary>Why a JSON value could not be read, without the .NET type it was read into.</summary>
    public static string ReasonOf(JsonException exception)
    {
        // A syntax error is the reader's own exception, wrapped with the path it was reached at.
        if (exception.InnerException is JsonException)
        {
            return exception.LineNumber is { } line && exception.BytePositionInLine is { } position
                ? string.Create(CultureInfo.InvariantCulture, $"Not valid JSON (line {line + 1}, byte {position + 1} of it).")
                : "Not valid JSON.";
        }

        if (exception is JsonInputRefusedException refused)
        {
            return refused.Message;
        }

        var message = exception.Message;
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            return "Not a field of this request.";
        }

        if (message.StartsWith("Duplicate property", StringComparison.Ordinal))
        {
            return "Given more than once.";
        }

        return "Not a value of the expected type, or out of its range.";
    }

    [GeneratedRegex("^(Implicit body inferred for parameter|Required parameter \"[^\"]+\" was not provided from body)")]
    private static partial Regex BodyMissing();

    [GeneratedRegex("^Required parameter \"[^\" ]+ (?<name>[^\"]+)\" was not provided")]
    private static partial Regex ParameterMissing();

    [GeneratedRegex("^Failed to bind parameter \"[^\" ]+ (?<name>[^\"]+)\" from")]
    private static partial Regex ParameterUnbound();
}
